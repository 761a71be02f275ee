// Placeholder so the library exists before the model sources land.
namespace mdevsim::models { void models_anchor() {} }
