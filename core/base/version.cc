#include "core/base/version.h"

namespace socklab {

std::string_view Version() { return SOCKLAB_VERSION; }

}  // namespace socklab
