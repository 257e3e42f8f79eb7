// Facade: the pca header moved to tagmap/project/tsne/pca.hpp (kept so existing includes work).
#pragma once

#include "tagmap/project/tsne/pca.hpp"
