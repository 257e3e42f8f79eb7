// Track-level summary of per-chunk outputs: element-wise mean and max over chunks,
// for taggrams and embeddings alike. Running, so chunks need not be kept.
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <tagmap/core/error.hpp>

namespace tagmap::embed {

/// Running element-wise mean and max of equally sized vectors.
class RunningMeanMax {
  public:
    explicit RunningMeanMax(std::size_t dim)
        : sum_(dim, 0.0), max_(dim, -std::numeric_limits<float>::infinity()) {}

    void add(std::span<const float> v) {
        if (v.size() != sum_.size())
            throw InvalidArgument("RunningMeanMax: got a vector of " + std::to_string(v.size()) +
                                  " values, expected " + std::to_string(sum_.size()));
        for (std::size_t i = 0; i < v.size(); ++i) {
            sum_[i] += v[i];  // double accumulation: hour-long tracks have ~1200 chunks
            max_[i] = std::max(max_[i], v[i]);
        }
        ++count_;
    }

    std::size_t count() const { return count_; }
    std::size_t dim() const { return sum_.size(); }

    std::vector<float> mean() const {
        require_data();
        std::vector<float> m(sum_.size());
        for (std::size_t i = 0; i < m.size(); ++i)
            m[i] = static_cast<float>(sum_[i] / static_cast<double>(count_));
        return m;
    }
    std::vector<float> max() const {
        require_data();
        return max_;
    }

  private:
    void require_data() const {
        if (count_ == 0) throw InvalidArgument("RunningMeanMax: no vectors were added");
    }
    std::vector<double> sum_;
    std::vector<float> max_;
    std::size_t count_ = 0;
};

/// Mean and max of a track's taggrams and embeddings.
class TrackAggregate {
  public:
    TrackAggregate(std::size_t n_tags, std::size_t embedding_dim)
        : taggram_(n_tags), embedding_(embedding_dim) {}

    void add(std::span<const float> taggram, std::span<const float> embedding) {
        taggram_.add(taggram);
        embedding_.add(embedding);
    }
    std::size_t chunks() const { return taggram_.count(); }
    std::vector<float> taggram_mean() const { return taggram_.mean(); }
    std::vector<float> taggram_max() const { return taggram_.max(); }
    std::vector<float> embedding_mean() const { return embedding_.mean(); }
    std::vector<float> embedding_max() const { return embedding_.max(); }

  private:
    RunningMeanMax taggram_;
    RunningMeanMax embedding_;
};

}  // namespace tagmap::embed
