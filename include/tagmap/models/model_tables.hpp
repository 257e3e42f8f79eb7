// The code of every model in the run-time tables (registry.hpp, sequence_model.hpp),
// for a program built with TAGMAP_SEPARATE_MODEL_TABLES: compile this header in exactly
// one source file, with TAGMAP_MODEL_TABLES_IMPLEMENTATION defined before any tagmap
// header. The other files then include the tables' headers without the models' code.
#pragma once

#if !defined(TAGMAP_SEPARATE_MODEL_TABLES) || !defined(TAGMAP_MODEL_TABLES_IMPLEMENTATION)
#error \
    "model_tables.hpp: define TAGMAP_SEPARATE_MODEL_TABLES (for the whole program) and TAGMAP_MODEL_TABLES_IMPLEMENTATION (for this file) before including it"
#endif

#include "tagmap/models/registry.hpp"
#include "tagmap/models/sequence_model.hpp"
