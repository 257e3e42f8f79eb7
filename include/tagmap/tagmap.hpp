// Umbrella header: everything tagmap offers. Include the specific headers instead
// to keep compile times low (the models in particular are large templates).
#pragma once

#include <tagmap/core/error.hpp>

#include <tagmap/weights/madmom_reader.hpp>
#include <tagmap/weights/pth_reader.hpp>
#include <tagmap/weights/tmw_writer.hpp>
#include <tagmap/weights/weight_file.hpp>

#include <tagmap/audio/decode.hpp>
#include <tagmap/audio/log_mel.hpp>
#include <tagmap/audio/resample.hpp>

#include <tagmap/models/registry.hpp>
#include <tagmap/models/sequence_model.hpp>

#include <tagmap/embed/aggregate.hpp>
#include <tagmap/embed/pipeline.hpp>
#include <tagmap/embed/streaming.hpp>

#include <tagmap/project/knn.hpp>
#include <tagmap/project/metrics.hpp>
#include <tagmap/project/tsne.hpp>
#include <tagmap/project/umap.hpp>
