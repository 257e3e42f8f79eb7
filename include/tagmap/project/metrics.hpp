// Facade: the metrics header moved to tagmap/project/metrics/metrics.hpp (kept so existing includes
// work).
#pragma once

#include "tagmap/project/metrics/metrics.hpp"
