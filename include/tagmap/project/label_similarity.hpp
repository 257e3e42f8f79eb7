// Facade: the label_similarity header moved to tagmap/project/metrics/label_similarity.hpp (kept so
// existing includes work).
#pragma once

#include "tagmap/project/metrics/label_similarity.hpp"
