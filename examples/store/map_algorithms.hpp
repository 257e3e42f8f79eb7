// UMAP and t-SNE as the application uses them, compiled once (map_algorithms.cpp).
// Their instantiations are the costliest code in the tree to compile; the store's map
// cache and the CLI's `project` command need the same few, so they call through here
// and no other translation unit instantiates them.
#pragma once

#include <tagmap/project/tsne.hpp>
#include <tagmap/project/umap.hpp>

#include "library.hpp"

namespace tagmap::store::maps {

template <class T>
using Rows = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using Columns = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;

/// project::umap() and project::tsne() on float or double rows.
Columns<float> umap(const Rows<float>& X, const project::UmapOptions& options);
Columns<double> umap(const Rows<double>& X, const project::UmapOptions& options);
Columns<float> tsne(const Rows<float>& X, const project::TsneOptions& options);
Columns<double> tsne(const Rows<double>& X, const project::TsneOptions& options);

/// Umap<float>::fit(X, options).embedding().
RowMatrixF umap_embedding(const RowMatrixF& X, const project::UmapOptions& options);

/// Umap<float>::from_embedding(): a cached map that places new points with umap_transform().
project::Umap<float> umap_from_embedding(const RowMatrixF& X, const RowMatrixF& Y,
                                         const project::UmapOptions& options);
RowMatrixF umap_transform(const project::Umap<float>& map, const RowMatrixF& X_new);

/// Tsne<float>::from_embedding(X, Y, options).transform(X_new).
RowMatrixF tsne_transform(const RowMatrixF& X, const RowMatrixF& Y,
                          const project::TsneOptions& options, const RowMatrixF& X_new);

}  // namespace tagmap::store::maps
