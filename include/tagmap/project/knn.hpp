// Facade: the knn header moved to tagmap/project/knn/knn.hpp (kept so existing includes work).
#pragma once

#include "tagmap/project/knn/knn.hpp"
