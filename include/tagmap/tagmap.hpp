// Umbrella header: everything tagmap offers. Include the specific headers instead
// to keep compile times low.
#pragma once

#include <tagmap/core/error.hpp>
