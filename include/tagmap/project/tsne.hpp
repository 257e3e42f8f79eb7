// Facade: the tsne header moved to tagmap/project/tsne/tsne.hpp (kept so existing includes work).
#pragma once

#include "tagmap/project/tsne/tsne.hpp"
