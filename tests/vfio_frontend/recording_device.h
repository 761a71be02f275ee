// A MigratableDevice that does nothing but log what the frontend asks of it
// ("run 0", "open_save", "save.finalize", "resume.commit", ...), so tests can
// compare the device-side effect of an arc exactly, with no SystemC device
// behind it. Streams carry a few fixed bytes; a resume commit fails when
// nothing was written (as a real device refuses an empty image).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "mdevsim/models/device_api/migration_port.h"

namespace mdevsim::vfio::testing {

class RecordingDevice : public models::MigratableDevice {
 public:
  std::vector<std::string> log;
  uint64_t missing = 0;  // post-copy: pages still at the source

  void set_running(bool r) override {
    log.push_back(std::string("run ") + (r ? "1" : "0"));
    running_ = r;
  }
  bool running() const override { return running_; }
  void set_p2p_quiesced(bool q) override {
    log.push_back(std::string("p2p ") + (q ? "1" : "0"));
    p2p_ = q;
  }
  bool p2p_quiesced() const override { return p2p_; }

  std::unique_ptr<models::SaveStream> open_save_stream() override {
    log.push_back("open_save");
    return std::make_unique<Save>(log);
  }
  uint64_t full_image_bytes() const override { return 64; }
  std::unique_ptr<models::ResumeStream> open_resume_stream() override {
    log.push_back("open_resume");
    return std::make_unique<Resume>(log);
  }
  void reset() override {
    log.push_back("reset");
    running_ = true;
    p2p_ = false;
  }
  std::vector<models::GuestPageRange> pinned_guest_pages() const override { return {}; }
  bool dma_logging_supported() const override { return false; }
  void dma_logging_start(uint64_t) override {}
  void dma_logging_stop() override {}
  bool dma_logging_active() const override { return false; }
  std::vector<uint64_t> dma_logging_report(uint64_t, uint64_t, uint64_t) override { return {}; }
  uint64_t missing_pages() const override { return missing; }
  std::string compatibility_string() const override { return "recording"; }

 private:
  class Save : public models::SaveStream {
   public:
    explicit Save(std::vector<std::string>& log) : log_(log) {}
    uint64_t initial_bytes() const override { return finalized_ ? 0 : 8; }
    uint64_t dirty_bytes() const override { return 0; }
    uint64_t stop_copy_bytes() const override { return 8 - sent_; }
    void finalize() override {
      log_.push_back("save.finalize");
      finalized_ = true;
    }
    bool finalized() const override { return finalized_; }
    size_t read(std::span<uint8_t> out) override {
      const size_t n = std::min<size_t>(out.size(), 8 - sent_);
      for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(sent_ + i);
      sent_ += n;
      return n;
    }
    bool at_end() const override { return finalized_ && sent_ == 8; }
    uint64_t bytes_produced() const override { return sent_; }
    uint64_t read_chunks(uint64_t, std::vector<models::StreamChunk>&) override { return 0; }
    void corrupt_at(uint64_t) override { log_.push_back("save.corrupt_at"); }
    bool finalize_postcopy() override {
      log_.push_back("save.finalize_postcopy");
      postcopy_ = true;
      return true;
    }
    bool postcopy() const override { return postcopy_; }

   private:
    std::vector<std::string>& log_;
    bool finalized_ = false, postcopy_ = false;
    size_t sent_ = 0;
  };

  class Resume : public models::ResumeStream {
   public:
    explicit Resume(std::vector<std::string>& log) : log_(log) {}
    models::StreamStatus write(std::span<const uint8_t> in) override {
      consumed_ += in.size();
      return {};
    }
    models::StreamStatus write_chunks(const std::vector<models::StreamChunk>&) override {
      return {};
    }
    uint64_t bytes_consumed() const override { return consumed_; }
    models::StreamStatus commit() override {
      log_.push_back("resume.commit");
      if (consumed_ == 0) return {models::StreamError::kIncomplete, "no image was written"};
      return {};
    }
    models::StreamStatus commit_partial() override {
      log_.push_back("resume.commit_partial");
      if (consumed_ == 0) return {models::StreamError::kIncomplete, "no switch package"};
      return {};
    }

   private:
    std::vector<std::string>& log_;
    uint64_t consumed_ = 0;
  };

  bool running_ = true, p2p_ = false;
};

}  // namespace mdevsim::vfio::testing
