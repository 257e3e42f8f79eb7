// The models of the run-time tables, compiled once for the project's own programs and
// tests (target tagmap_model_tables; include/tagmap/models/model_tables.hpp says why).
#define TAGMAP_MODEL_TABLES_IMPLEMENTATION
#include <tagmap/models/model_tables.hpp>
