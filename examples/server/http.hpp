// cpp-httplib, included through here: it pulls in <resolv.h>, whose `_res` macro breaks
// Eigen headers included afterwards (Eigen names parameters `_res`). httplib's code is in
// Debian's compiled library, so the macro is not needed by the declarations.
#pragma once

#include <httplib.h>

#ifdef _res
#undef _res
#endif
