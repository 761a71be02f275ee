// The sections of the run report (write_html_report in report.cpp), one
// file each. Internal to sim/src/report*.cpp.
#pragma once

#include <ostream>

#include "mdevsim/sim/report.h"

namespace mdevsim::sim::report_detail {

// report_summary.cpp: outcome, downtime against the limit, key figures; bytes per iteration.
void summary(std::ostream& o, const Result& r, const ReportContext& c);
void iterations_chart(std::ostream& o, const Result& r);
// report_over_time.cpp: remaining bytes, dirty pages and distinct pages over time.
void counters_section(std::ostream& o, const Result& r, const RunLog& log);
// report_state_diagram.cpp: the protocol's states and arcs with each host's path.
void state_diagram(std::ostream& o, const RunLog& log, const ReportContext& c);
// report_postcopy.cpp: post-copy figures, fault stalls over time and their histogram.
void postcopy_section(std::ostream& o, const Result& r, const RunLog& log);

}  // namespace mdevsim::sim::report_detail
