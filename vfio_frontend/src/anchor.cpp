// Placeholder so the library exists before the frontend sources land.
namespace mdevsim::vfio { void vfio_anchor() {} }
