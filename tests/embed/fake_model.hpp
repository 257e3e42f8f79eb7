// A tiny deterministic model for testing the pipeline without real weights: the
// "taggram" holds simple statistics of the chunk, the "embedding" its first samples
// and a checksum, so tests can tell exactly which samples each chunk saw.
#pragma once

#include <cstddef>
#include <span>

namespace tagmap::test {

/// Runtime sizes (like models::AnyModel).
class FakeModel {
  public:
    explicit FakeModel(std::size_t window = 400) : window_(window) {}
    std::size_t input_samples() const { return window_; }
    std::size_t n_tags() const { return 3; }
    std::size_t embedding_dim() const { return 4; }
    // taggram: mean, max, min; embedding: chunk[0], chunk[1], chunk[last], sum(i * x_i)
    void forward(std::span<const float> chunk, std::span<float> taggram,
                 std::span<float> embedding) {
        double sum = 0, weighted = 0;
        float mx = chunk[0], mn = chunk[0];
        for (std::size_t i = 0; i < chunk.size(); ++i) {
            sum += chunk[i];
            weighted += static_cast<double>(i) * chunk[i];
            mx = chunk[i] > mx ? chunk[i] : mx;
            mn = chunk[i] < mn ? chunk[i] : mn;
        }
        taggram[0] = static_cast<float>(sum / static_cast<double>(chunk.size()));
        taggram[1] = mx;
        taggram[2] = mn;
        embedding[0] = chunk[0];
        embedding[1] = chunk[1];
        embedding[2] = chunk[chunk.size() - 1];
        embedding[3] = static_cast<float>(weighted);
        ++calls;
    }
    std::size_t calls = 0;

  private:
    std::size_t window_;
};

/// Compile-time sizes (like the static model types).
struct StaticFakeModel {
    static constexpr std::size_t input_samples = 160;
    static constexpr std::size_t n_tags = 2;
    static constexpr std::size_t embedding_dim = 1;
    void forward(std::span<const float> chunk, std::span<float> taggram,
                 std::span<float> embedding) const {
        taggram[0] = chunk.front();
        taggram[1] = chunk.back();
        embedding[0] = static_cast<float>(chunk.size());
    }
};

}  // namespace tagmap::test

namespace tagmap::test {

/// Echoes its input: the embedding is the chunk itself, so tests can compare the
/// exact samples each chunk received.
class EchoModel {
  public:
    explicit EchoModel(std::size_t window) : window_(window) {}
    std::size_t input_samples() const { return window_; }
    std::size_t n_tags() const { return 1; }
    std::size_t embedding_dim() const { return window_; }
    void forward(std::span<const float> chunk, std::span<float> taggram,
                 std::span<float> embedding) const {
        taggram[0] = chunk[0];
        for (std::size_t i = 0; i < chunk.size(); ++i) embedding[i] = chunk[i];
    }

  private:
    std::size_t window_;
};

}  // namespace tagmap::test
