// Facade: the umap header moved to tagmap/project/umap/umap.hpp (kept so existing includes work).
#pragma once

#include "tagmap/project/umap/umap.hpp"
