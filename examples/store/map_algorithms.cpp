#include "map_algorithms.hpp"

namespace tagmap::store::maps {

Columns<float> umap(const Rows<float>& X, const project::UmapOptions& options) {
    return project::umap(X, options);
}

Columns<double> umap(const Rows<double>& X, const project::UmapOptions& options) {
    return project::umap(X, options);
}

Columns<float> tsne(const Rows<float>& X, const project::TsneOptions& options) {
    return project::tsne(X, options);
}

Columns<double> tsne(const Rows<double>& X, const project::TsneOptions& options) {
    return project::tsne(X, options);
}

RowMatrixF umap_embedding(const RowMatrixF& X, const project::UmapOptions& options) {
    return project::Umap<float>::fit(X, options).embedding();
}

project::Umap<float> umap_from_embedding(const RowMatrixF& X, const RowMatrixF& Y,
                                         const project::UmapOptions& options) {
    return project::Umap<float>::from_embedding(X, Y, options);
}

RowMatrixF umap_transform(const project::Umap<float>& map, const RowMatrixF& X_new) {
    return map.transform(X_new);
}

RowMatrixF tsne_transform(const RowMatrixF& X, const RowMatrixF& Y,
                          const project::TsneOptions& options, const RowMatrixF& X_new) {
    return project::Tsne<float>::from_embedding(X, Y, options).transform(X_new);
}

}  // namespace tagmap::store::maps
