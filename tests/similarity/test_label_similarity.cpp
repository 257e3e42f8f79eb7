// label_similarity() against numpy / scikit-learn golden values
// (tools/make_similarity_fixtures.py -> tests/data/similarity), the rules the old system got
// wrong (own row in its own centroid, no centering), edge cases, errors and determinism.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "fixtures.hpp"
#include "tagmap/core/random.hpp"
#include "tagmap/project/metrics/label_similarity.hpp"

using namespace tagmap;
using namespace tagmap::project;
using nlohmann::json;
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using RowMatrixD = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {

constexpr double kTolerance = 1e-6;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Fixture {
    RowMatrixF x;
    std::vector<int> labels;
    int groups = 0;
    json doc;
};

Fixture load(const std::string& name) {
    const auto path = tagmap::test::test_data_dir() / "similarity" / name;
    std::ifstream in(path);
    EXPECT_TRUE(in) << "missing fixture " << path;
    Fixture f;
    f.doc = json::parse(in);
    const int rows = f.doc.at("rows"), dims = f.doc.at("dims");
    f.groups = f.doc.at("groups");
    f.x.resize(rows, dims);
    for (int i = 0; i < rows; ++i)
        for (int d = 0; d < dims; ++d) f.x(i, d) = f.doc.at("x")[i][d].get<float>();
    f.labels = f.doc.at("labels").get<std::vector<int>>();
    return f;
}

double number(const json& value) {
    return value.is_null() ? kNaN : value.get<double>();
}

/// Equal to 1e-6, or both NaN.
void expect_close(double got, const json& want, const std::string& what) {
    const double w = number(want);
    if (std::isnan(w))
        EXPECT_TRUE(std::isnan(got)) << what << ": got " << got << ", want NaN";
    else
        EXPECT_NEAR(got, w, kTolerance) << what;
}

void expect_matches(const LabelSimilarity& r, const json& want, const std::string& name) {
    for (const char* figure : {"mean_similarity_to_own_genre", "std_similarity_to_own_genre",
                               "min_similarity_to_own_genre", "max_similarity_to_own_genre",
                               "agreement_rate", "silhouette_score", "knn_genre_precision_at_k"}) {
        const double got =
            figure == std::string("mean_similarity_to_own_genre")  ? r.mean_similarity_to_own_genre
            : figure == std::string("std_similarity_to_own_genre") ? r.std_similarity_to_own_genre
            : figure == std::string("min_similarity_to_own_genre") ? r.min_similarity_to_own_genre
            : figure == std::string("max_similarity_to_own_genre") ? r.max_similarity_to_own_genre
            : figure == std::string("agreement_rate")              ? r.agreement_rate
            : figure == std::string("silhouette_score")            ? r.silhouette_score
                                                                   : r.knn_genre_precision_at_k;
        expect_close(got, want.at(figure), name + " " + figure);
    }
    EXPECT_EQ(r.knn_k, want.at("knn_k").get<int>()) << name;
    EXPECT_EQ(r.labeled_count, want.at("labeled_count").get<int>()) << name;
    EXPECT_EQ(r.scored_count, want.at("scored_count").get<int>()) << name;

    const auto counts = want.at("group_counts").get<std::vector<int>>();
    ASSERT_EQ(r.group_counts.size(), Eigen::Index(counts.size())) << name;
    for (std::size_t g = 0; g < counts.size(); ++g)
        EXPECT_EQ(r.group_counts[Eigen::Index(g)], counts[g]) << name << " group " << g;

    const auto& confusion = want.at("confusion");
    ASSERT_EQ(r.confusion.rows(), Eigen::Index(confusion.size())) << name;
    for (std::size_t a = 0; a < confusion.size(); ++a)
        for (std::size_t b = 0; b < confusion[a].size(); ++b)
            EXPECT_EQ(r.confusion(Eigen::Index(a), Eigen::Index(b)), confusion[a][b].get<int>())
                << name << " confusion(" << a << ", " << b << ")";

    const auto& similarity = want.at("similarity");
    ASSERT_EQ(r.similarity.rows(), Eigen::Index(similarity.size())) << name;
    ASSERT_EQ(r.similarity.cols(), Eigen::Index(counts.size())) << name;
    for (std::size_t i = 0; i < similarity.size(); ++i) {
        for (std::size_t g = 0; g < similarity[i].size(); ++g)
            expect_close(
                r.similarity(Eigen::Index(i), Eigen::Index(g)), similarity[i][g],
                name + " similarity(" + std::to_string(i) + ", " + std::to_string(g) + ")");
        expect_close(r.similarity_to_own_group[Eigen::Index(i)],
                     want.at("similarity_to_own_group")[i],
                     name + " own similarity of row " + std::to_string(i));
        EXPECT_EQ(r.nearest_group[Eigen::Index(i)], want.at("nearest_group")[i].get<int>())
            << name << " nearest group of row " << i;
    }
}

void check_fixture(const std::string& file) {
    const Fixture f = load(file);
    const RowMatrixD xd = f.x.cast<double>();  // the same values in double
    const Eigen::MatrixXf xf_col = f.x;        // column-major input
    for (const auto& want : f.doc.at("cases")) {
        LabelSimilarityOptions options;
        options.k = want.at("k");
        options.threads = 2;
        const std::string name = file + " k=" + std::to_string(options.k);
        expect_matches(label_similarity(f.x, f.labels, f.groups, options), want, name + " float");
        expect_matches(label_similarity(xd, f.labels, f.groups, options), want, name + " double");
        expect_matches(label_similarity(xf_col, f.labels, f.groups, options), want,
                       name + " column-major float");
    }
}

LabelSimilarity run(const RowMatrixD& x, const std::vector<int>& labels, int groups, int k = 10,
                    int threads = 1) {
    LabelSimilarityOptions options;
    options.k = k;
    options.threads = threads;
    return label_similarity(x, labels, groups, options);
}

double cosine(const Eigen::RowVectorXd& a, const Eigen::RowVectorXd& b) {
    return a.dot(b) / (a.norm() * b.norm());
}

}  // namespace

// --- Golden values -------------------------------------------------------------------------

TEST(LabelSimilarityGolden, SyntheticMatchesNumpyAndSklearn) {
    check_fixture("synthetic.json");
}

TEST(LabelSimilarityGolden, HandCaseMatchesNumpyAndSklearn) {
    check_fixture("hand.json");
}

TEST(LabelSimilarityGolden, DefaultOptionsUseKTen) {
    const Fixture f = load("synthetic.json");
    const auto& want = f.doc.at("cases")[0];
    ASSERT_EQ(want.at("k").get<int>(), 10);
    const LabelSimilarity r = label_similarity(f.x, f.labels, f.groups);
    EXPECT_EQ(r.knn_k, 10);
    EXPECT_NEAR(r.knn_genre_precision_at_k, want.at("knn_genre_precision_at_k").get<double>(),
                kTolerance);
}

// The golden values tell the two old mistakes apart by far more than the tolerance, so the
// golden tests above would fail if the own row were included or the rows left uncentered.
TEST(LabelSimilarityGolden, FixturesSeparateTheNaiveComputations) {
    for (const char* file : {"synthetic.json", "hand.json"}) {
        const Fixture f = load(file);
        const auto& want = f.doc.at("cases")[0];
        const auto& naive = f.doc.at("naive");
        for (const char* mistake : {"including_own_row", "uncentered"})
            EXPECT_GT(std::abs(naive.at(mistake).at("mean_similarity_to_own_genre").get<double>() -
                               want.at("mean_similarity_to_own_genre").get<double>()),
                      0.05)
                << file << " " << mistake;
        EXPECT_GT(std::abs(naive.at("uncentered_silhouette_score").get<double>() -
                           want.at("silhouette_score").get<double>()),
                  0.05)
            << file;
    }
}

// --- The rules, on hand-made data ------------------------------------------------------------

// Hand case (docs/label_similarity.md): centered rows A..F plus (10, 10).
TEST(LabelSimilarity, HandCaseWorkedValues) {
    RowMatrixD x(7, 2);
    x << 12, 10, 11, 11, 8, 10, 9, 9, 9, 7, 11, 13, 1000, -5;
    const std::vector<int> labels{0, 0, 1, 1, 1, 2, -1};
    const LabelSimilarity r = run(x, labels, 3);
    const double s = std::sqrt(0.5);
    // A's own centroid is B alone: cos((2,0), (1,1)) = 1/sqrt(2). With A itself included
    // it would be cos((2,0), (1.5,0.5)) = 0.9487; uncentered, about 0.99.
    EXPECT_NEAR(r.similarity_to_own_group[0], s, 1e-12);
    EXPECT_NEAR(r.similarity_to_own_group[1], s, 1e-12);
    EXPECT_NEAR(r.similarity_to_own_group[2], 1 / std::sqrt(5.0), 1e-12);  // C vs (D+E)/2
    EXPECT_NEAR(r.similarity_to_own_group[3], 1.0, 1e-12);                 // D vs (C+E)/2
    EXPECT_NEAR(r.similarity_to_own_group[4], 0.6, 1e-12);                 // E vs (C+D)/2
    EXPECT_NEAR(r.similarity(1, 2), 2 / std::sqrt(5.0), 1e-12);  // B is nearer to F's group
    EXPECT_EQ(r.nearest_group[1], 2);
    EXPECT_NEAR(r.agreement_rate, 0.8, 1e-15);
    EXPECT_NEAR(r.mean_similarity_to_own_genre, (2 * s + 1 / std::sqrt(5.0) + 1.0 + 0.6) / 5,
                1e-12);
    EXPECT_NEAR(r.min_similarity_to_own_genre, 1 / std::sqrt(5.0), 1e-12);
    EXPECT_NEAR(r.max_similarity_to_own_genre, 1.0, 1e-12);
    // k = min(10, 6 - 1) = 5: every other labeled row; shares 1/5, 1/5, 2/5 x 3, 0.
    EXPECT_EQ(r.knn_k, 5);
    EXPECT_NEAR(r.knn_genre_precision_at_k, 1.6 / 6, 1e-15);
}

TEST(LabelSimilarity, LeaveOneOutCentroidIsTheOtherRowsMean) {
    tagmap::Rng rng(7);
    RowMatrixD x(9, 5);
    for (Eigen::Index i = 0; i < x.rows(); ++i)
        for (Eigen::Index d = 0; d < x.cols(); ++d) x(i, d) = rng.normal() + 3.0;
    const std::vector<int> labels{0, 0, 1, 1, 1, 2, 2, 2, 2};
    const LabelSimilarity r = run(x, labels, 3);
    const Eigen::RowVectorXd mean = x.colwise().mean();
    const RowMatrixD y = x.rowwise() - mean;
    // A pair: each row's own centroid is the other row, not the pair's mean.
    EXPECT_NEAR(r.similarity_to_own_group[0], cosine(y.row(0), y.row(1)), 1e-12);
    EXPECT_NEAR(r.similarity_to_own_group[1], cosine(y.row(1), y.row(0)), 1e-12);
    EXPECT_GT(std::abs(r.similarity_to_own_group[0] - cosine(y.row(0), (y.row(0) + y.row(1)) / 2)),
              1e-3);
    for (int i = 5; i < 9; ++i) {
        Eigen::RowVectorXd others = Eigen::RowVectorXd::Zero(5);
        for (int j = 5; j < 9; ++j)
            if (j != i) others += y.row(j) / 3;
        EXPECT_NEAR(r.similarity_to_own_group[i], cosine(y.row(i), others), 1e-12) << i;
    }
    // Other groups' centroids keep all their rows.
    EXPECT_NEAR(r.similarity(0, 2), cosine(y.row(0), y.middleRows(5, 4).colwise().mean()), 1e-12);
}

// Centering makes the figures invariant to a common offset; uncentered cosines are not.
TEST(LabelSimilarity, CenteringRemovesACommonOffset) {
    tagmap::Rng rng(11);
    RowMatrixD x(40, 6);
    std::vector<int> labels(40);
    for (int i = 0; i < 40; ++i) {
        labels[i] = i % 4;
        for (int d = 0; d < 6; ++d) x(i, d) = rng.normal() + 0.8 * (d == labels[i]);
    }
    const LabelSimilarity base = run(x, labels, 4);
    RowMatrixD shifted = x;
    shifted.rowwise() += Eigen::RowVectorXd::LinSpaced(6, 50.0, 80.0);
    const LabelSimilarity moved = run(shifted, labels, 4);
    EXPECT_NEAR(moved.mean_similarity_to_own_genre, base.mean_similarity_to_own_genre, 1e-9);
    EXPECT_NEAR(moved.silhouette_score, base.silhouette_score, 1e-9);
    EXPECT_EQ(moved.knn_genre_precision_at_k, base.knn_genre_precision_at_k);
    EXPECT_NEAR(moved.std_similarity_to_own_genre, base.std_similarity_to_own_genre, 1e-9);
    for (int i = 0; i < 40; ++i)
        for (int g = 0; g < 4; ++g)
            EXPECT_NEAR(moved.similarity(i, g), base.similarity(i, g), 1e-9);
    // Uncentered, every own-group cosine of the shifted rows would be about 0.99.
    EXPECT_LT(base.mean_similarity_to_own_genre, 0.6);
}

TEST(LabelSimilarity, SingletonGroupHasNoOwnCentroidButCountsElsewhere) {
    RowMatrixD x(7, 2);
    x << 12, 10, 11, 11, 8, 10, 9, 9, 9, 7, 11, 13, 1000, -5;
    const std::vector<int> labels{0, 0, 1, 1, 1, 2, -1};
    const LabelSimilarity r = run(x, labels, 3);
    EXPECT_TRUE(std::isnan(r.similarity(5, 2)));
    EXPECT_TRUE(std::isnan(r.similarity_to_own_group[5]));
    EXPECT_NEAR(r.similarity(5, 0), 0.6, 1e-12);  // F = (1,3) vs A + B = (3,1)
    EXPECT_EQ(r.nearest_group[5], 0);
    EXPECT_EQ(r.labeled_count, 6);
    EXPECT_EQ(r.scored_count, 5);
    EXPECT_EQ(r.confusion.row(2).sum(), 0);
    EXPECT_EQ(r.confusion.sum(), 5);
    EXPECT_EQ(r.group_counts[2], 1);
    // Its centroid is F itself for the other rows: B's similarity to group 2 is defined.
    EXPECT_FALSE(std::isnan(r.similarity(1, 2)));
}

TEST(LabelSimilarity, UnlabeledRowsAreNeverUsed) {
    const Fixture f = load("synthetic.json");
    const LabelSimilarity base = label_similarity(f.x, f.labels, f.groups);
    // Overwrite the unlabeled rows with anything, NaN included: nothing changes.
    RowMatrixF x = f.x;
    for (std::size_t i = 0; i < f.labels.size(); ++i)
        if (f.labels[i] < 0) x.row(Eigen::Index(i)).setConstant(i % 2 ? 1e30f : NAN);
    const LabelSimilarity other = label_similarity(x, f.labels, f.groups);
    EXPECT_EQ(other.mean_similarity_to_own_genre, base.mean_similarity_to_own_genre);
    EXPECT_EQ(other.silhouette_score, base.silhouette_score);
    EXPECT_EQ(other.knn_genre_precision_at_k, base.knn_genre_precision_at_k);
    // Dropping them gives the same figures, row for row.
    std::vector<int> kept, kept_labels;
    for (std::size_t i = 0; i < f.labels.size(); ++i)
        if (f.labels[i] >= 0) {
            kept.push_back(int(i));
            kept_labels.push_back(f.labels[i]);
        }
    RowMatrixF only(Eigen::Index(kept.size()), f.x.cols());
    for (std::size_t p = 0; p < kept.size(); ++p) only.row(Eigen::Index(p)) = f.x.row(kept[p]);
    const LabelSimilarity dropped = label_similarity(only, kept_labels, f.groups);
    EXPECT_NEAR(dropped.mean_similarity_to_own_genre, base.mean_similarity_to_own_genre, 1e-12);
    EXPECT_NEAR(dropped.silhouette_score, base.silhouette_score, 1e-12);
    EXPECT_EQ(dropped.knn_genre_precision_at_k, base.knn_genre_precision_at_k);
    for (std::size_t p = 0; p < kept.size(); ++p) {
        const double a = dropped.similarity_to_own_group[Eigen::Index(p)];
        const double b = base.similarity_to_own_group[kept[p]];
        EXPECT_TRUE(std::abs(a - b) < 1e-12 || (std::isnan(a) && std::isnan(b))) << p;
    }
    for (std::size_t i = 0; i < f.labels.size(); ++i)
        if (f.labels[i] < 0) {
            EXPECT_EQ(base.nearest_group[Eigen::Index(i)], -1);
            EXPECT_TRUE(base.similarity.row(Eigen::Index(i)).array().isNaN().all());
        }
}

TEST(LabelSimilarity, ZeroVectorAndEmptyGroupAreUndefined) {
    // Row 4 equals the labeled mean (0, 0): its centered vector is zero.
    RowMatrixD x(6, 2);
    x << 2, 0, 1, 1, -2, 0, -1, -1, 0, 0, 7, 7;
    const std::vector<int> labels{0, 0, 1, 1, 1, -1};
    const LabelSimilarity r = run(x, labels, 3);
    EXPECT_TRUE(r.similarity.row(4).array().isNaN().all());
    EXPECT_EQ(r.nearest_group[4], -1);
    EXPECT_EQ(r.scored_count, 4);
    EXPECT_EQ(r.group_counts[2], 0);
    for (int i = 0; i < 5; ++i) EXPECT_TRUE(std::isnan(r.similarity(i, 2))) << i;  // empty group
    // C and D still have own centroids: (D + 0) / 2 and (C + 0) / 2.
    EXPECT_NEAR(r.similarity_to_own_group[2], cosine(x.row(2), x.row(3)), 1e-12);
    EXPECT_EQ(r.confusion.sum(), 4);
}

TEST(LabelSimilarity, ZeroLeaveOneOutCentroidIsUndefined) {
    // Group 0 = {A, Z} with Z at the mean: A's own centroid is the zero vector.
    RowMatrixD x(5, 2);
    x << 1, 2, 0, 0, -1, 0, 0, -1, 0, -1;
    const std::vector<int> labels{0, 0, 1, 1, 1};
    const LabelSimilarity r = run(x, labels, 2);
    EXPECT_TRUE(std::isnan(r.similarity_to_own_group[0]));
    EXPECT_FALSE(std::isnan(r.similarity(0, 1)));
    EXPECT_EQ(r.nearest_group[0], 1);
    EXPECT_EQ(r.scored_count, 3);
}

// Ties in the kNN precision go to the lower row index.
TEST(LabelSimilarity, KnnTiesGoToTheLowerIndex) {
    // Rows 1 and 2 are equal and equally far from row 0; the mean is exactly zero.
    RowMatrixD x(4, 3);
    x << 1, 0, 0, 0, 1, 0, 0, 1, 0, -1, -2, 0;
    // Row 0 -> row 1, rows 1 <-> 2 (different labels), row 3 -> row 0.
    EXPECT_NEAR(run(x, {0, 1, 0, 0}, 2, 1).knn_genre_precision_at_k, 1.0 / 4, 1e-15);
    EXPECT_NEAR(run(x, {0, 0, 1, 0}, 2, 1).knn_genre_precision_at_k, 2.0 / 4, 1e-15);
}

// Many exact ties, more than the candidates kept per row (k + 8): the full rescan decides.
TEST(LabelSimilarity, ManyDuplicatesTieByIndex) {
    // (Dynamic size: GCC 12 warns falsely about fixed 3-vectors under AVX, -Warray-bounds.)
    Eigen::RowVectorXd q(3), v(3);
    q << 1.0, 0.2, 0.1;
    v << 0.3, 0.7, 0.2;
    RowMatrixD x(42, 3);
    x.row(0) = q;
    for (int i = 1; i <= 40; ++i) x.row(i) = v;
    x.row(41) = -(q + 40 * v);
    std::vector<int> labels(42, 0);
    labels[1] = 1;   // the lowest-index duplicate
    labels[41] = 2;  // a singleton
    // k = 1: row 0 -> row 1 (label 1), row 1 -> row 2 (label 0), rows 2..40 -> row 1
    // (label 1), row 41 alone in its group: no row finds its own label.
    for (int threads : {1, 2}) {
        const LabelSimilarity r = run(x, labels, 3, 1, threads);
        EXPECT_EQ(r.knn_genre_precision_at_k, 0.0) << threads;
    }
    // k = 2: rows 2..40 find rows 1 and 2 (or 3): one of two shares their label.
    const LabelSimilarity r2 = run(x, labels, 3, 2);
    EXPECT_NEAR(r2.knn_genre_precision_at_k, (0.5 * 39 + 0.5 + 0.0 + 0.0) / 42, 1e-15);
}

// Twenty rows on a cone around row 0, closer to it by 5e-13 per index: their distances to row
// 0 round to one float, so the candidates kept by the float score (k + 8, lower indices
// first) miss the nearest one (the last); the rescan must find it.
TEST(LabelSimilarity, NearTiesBeyondTheKeptCandidatesAreRescored) {
    const int cone = 20, n = cone + 2;
    RowMatrixD x(n, 3);
    x.row(0) << 1, 0, 0;
    double phi = 0;
    for (int j = 1; j <= cone; ++j) {
        const double theta = 0.5 - j * 1e-12;
        phi += j % 2 ? 0.38 : 0.25;  // pairs (1,2), (3,4), ... are each other's nearest
        x.row(j) << std::cos(theta), std::sin(theta) * std::cos(phi),
            std::sin(theta) * std::sin(phi);
    }
    x.row(n - 1) = -x.topRows(n - 1).colwise().sum();  // labeled mean (nearly) zero
    std::vector<int> labels(n, 1);
    labels[0] = 0;
    labels[cone] = 0;   // the nearest to row 0
    labels[n - 1] = 2;  // a singleton
    // Direct: sort every row's distances by (distance, index).
    const RowMatrixD y = x.rowwise() - x.colwise().mean();
    const RowMatrixD u = y.rowwise().normalized();
    double want = 0;
    for (int i = 0; i < n; ++i) {
        std::vector<std::pair<double, int>> order;
        for (int j = 0; j < n; ++j)
            if (j != i) order.emplace_back(1.0 - u.row(i).dot(u.row(j)), j);
        std::sort(order.begin(), order.end());
        if (i == 0) {
            ASSERT_EQ(order[0].second, cone);
        }
        want += labels[order[0].second] == labels[i];
    }
    want /= n;
    ASSERT_EQ(want, 19.0 / n);  // rows 1..18 with their partner, row 0 with row 20
    EXPECT_EQ(run(x, labels, 3, 1).knn_genre_precision_at_k, want);
    EXPECT_EQ(run(x, labels, 3, 1, 2).knn_genre_precision_at_k, want);
}

TEST(LabelSimilarity, SilhouetteNeedsTwoToNMinusOneLabels) {
    RowMatrixD x(4, 2);
    x << 1, 0, 0, 1, -1, 0, 0, -2;
    EXPECT_TRUE(std::isnan(run(x, {0, 0, 0, 0}, 2).silhouette_score));  // one label
    EXPECT_TRUE(std::isnan(run(x, {0, 1, 2, 3}, 4).silhouette_score));  // n labels
    EXPECT_FALSE(std::isnan(run(x, {0, 1, 2, 2}, 4).silhouette_score));
    // One label: no other group, so every row's nearest group is its own.
    EXPECT_EQ(run(x, {0, 0, 0, 0}, 2).agreement_rate, 1.0);
}

TEST(LabelSimilarity, PairwiseFiguresCanBeSkipped) {
    const Fixture f = load("synthetic.json");
    LabelSimilarityOptions options;
    options.silhouette = false;
    options.knn_precision = false;
    const LabelSimilarity r = label_similarity(f.x, f.labels, f.groups, options);
    EXPECT_TRUE(std::isnan(r.silhouette_score));
    EXPECT_TRUE(std::isnan(r.knn_genre_precision_at_k));
    EXPECT_EQ(r.knn_k, 0);
    EXPECT_NEAR(r.mean_similarity_to_own_genre,
                f.doc.at("cases")[0].at("mean_similarity_to_own_genre").get<double>(), kTolerance);
}

// Thousands of rows (several blocks of every pass) against a direct O(n^2) computation, and
// bit-identical results for any thread count.
TEST(LabelSimilarity, LargerSetMatchesDirectComputationForAnyThreadCount) {
    const int n = 2300, dims = 8, groups = 7;
    tagmap::Rng rng(2026);
    RowMatrixF x(n, dims);
    std::vector<int> labels(n);
    for (int i = 0; i < n; ++i) {
        labels[i] = i % 50 == 0 ? -1 : int(rng.below(groups - 1));  // group 6 stays empty
        for (int d = 0; d < dims; ++d)
            x(i, d) = float(rng.normal() + 5.0 + (labels[i] >= 0 && d == labels[i] ? 1.5 : 0.0));
    }
    x.row(7) = x.row(3);  // a few duplicates
    labels[7] = labels[3] == 0 ? 1 : 0;
    LabelSimilarityOptions options;
    options.k = 10;
    options.threads = 1;
    const LabelSimilarity one = label_similarity(x, labels, groups, options);
    options.threads = 2;
    const LabelSimilarity two = label_similarity(x, labels, groups, options);
    options.threads = 5;
    const LabelSimilarity five = label_similarity(x, labels, groups, options);
    for (const LabelSimilarity* r : {&two, &five}) {
        EXPECT_EQ(r->mean_similarity_to_own_genre, one.mean_similarity_to_own_genre);
        EXPECT_EQ(r->std_similarity_to_own_genre, one.std_similarity_to_own_genre);
        EXPECT_EQ(r->silhouette_score, one.silhouette_score);
        EXPECT_EQ(r->knn_genre_precision_at_k, one.knn_genre_precision_at_k);
        EXPECT_TRUE((r->nearest_group.array() == one.nearest_group.array()).all());
        EXPECT_TRUE((r->similarity.array() == one.similarity.array() ||
                     (r->similarity.array().isNaN() && one.similarity.array().isNaN()))
                        .all());
    }

    // Direct computation in double over the labeled rows.
    std::vector<int> rows, y;
    for (int i = 0; i < n; ++i)
        if (labels[i] >= 0) {
            rows.push_back(i);
            y.push_back(labels[i]);
        }
    const int m = int(rows.size());
    RowMatrixD Y(m, dims);
    for (int p = 0; p < m; ++p) Y.row(p) = x.row(rows[p]).cast<double>();
    Y.rowwise() -= Y.colwise().mean().eval();
    std::vector<int> count(groups, 0);
    for (const int label : y) ++count[label];
    RowMatrixD sums = RowMatrixD::Zero(groups, dims);
    for (int p = 0; p < m; ++p) sums.row(y[p]) += Y.row(p);
    double own_total = 0;
    int agree = 0;
    for (int p = 0; p < m; ++p) {
        int best = -1;
        double best_value = 0;
        for (int g = 0; g < groups; ++g) {
            if (count[g] == 0) continue;
            const Eigen::RowVectorXd centroid =
                g == y[p] ? Eigen::RowVectorXd((sums.row(g) - Y.row(p)) / (count[g] - 1))
                          : Eigen::RowVectorXd(sums.row(g) / count[g]);
            const double c = cosine(Y.row(p), centroid);
            ASSERT_NEAR(one.similarity(rows[p], g), c, 1e-12) << p << " " << g;
            if (best < 0 || c > best_value) best = g, best_value = c;
            if (g == y[p]) own_total += c;
        }
        agree += best == y[p];
    }
    EXPECT_NEAR(one.mean_similarity_to_own_genre, own_total / m, 1e-12);
    EXPECT_NEAR(one.agreement_rate, double(agree) / m, 1e-15);

    RowMatrixD U = Y.rowwise().normalized();
    double silhouette = 0, precision = 0;
    std::vector<std::pair<double, int>> order;
    for (int p = 0; p < m; ++p) {
        std::vector<double> by_group(groups, 0.0);
        order.clear();
        for (int q = 0; q < m; ++q) {
            if (q == p) continue;
            const double d = std::clamp(1.0 - U.row(p).dot(U.row(q)), 0.0, 2.0);
            by_group[y[q]] += d;
            order.emplace_back(d, q);
        }
        const double a = by_group[y[p]] / (count[y[p]] - 1);
        double b = std::numeric_limits<double>::infinity();
        for (int g = 0; g < groups; ++g)
            if (g != y[p] && count[g] > 0) b = std::min(b, by_group[g] / count[g]);
        silhouette += (b - a) / std::max(a, b);
        std::partial_sort(order.begin(), order.begin() + 11, order.end());
        // Only the duplicates (equal rows, so equal distances here too) tie; the rest of the
        // order is far from rounding.
        if (U.row(order[10].second) != U.row(order[9].second)) {
            ASSERT_GT(order[10].first - order[9].first, 1e-12) << p;
        }
        int same = 0;
        for (int c = 0; c < 10; ++c) same += y[order[c].second] == y[p];
        precision += same / 10.0;
    }
    EXPECT_NEAR(one.silhouette_score, silhouette / m, 1e-12);
    EXPECT_NEAR(one.knn_genre_precision_at_k, precision / m, 1e-15);
}

// --- Errors ------------------------------------------------------------------------------------

TEST(LabelSimilarityErrors, RejectsBadArguments) {
    RowMatrixD x(4, 2);
    x << 1, 0, 0, 1, -1, 0, 0, -2;
    const std::vector<int> labels{0, 0, 1, 1};
    auto throws = [&](auto&& call, const std::string& fragment) {
        try {
            call();
            ADD_FAILURE() << "no exception; expected one mentioning '" << fragment << "'";
        } catch (const tagmap::InvalidArgument& e) {
            EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
        }
    };
    throws([&] { run(x, {0, 0, 1}, 2); }, "4 rows but 3 labels");
    throws([&] { run(x, {0, 0, 1, 2}, 2); }, "row 3 has label 2, outside [-1, 2)");
    throws([&] { run(x, {0, -2, 1, 1}, 2); }, "row 1 has label -2");
    throws([&] { run(x, labels, 0); }, "groups must be >= 1");
    throws([&] { run(x, labels, 2, 0); }, "k must be >= 1");
    throws([&] { run(x, {-1, 0, -1, -1}, 2); }, "1 labeled rows; at least 2");
    throws([&] { run(x, {-1, -1, -1, -1}, 2); }, "0 labeled rows");
    throws([&] { run(x, labels, 2, 10, -1); }, "threads must be >= 0");
    throws([&] { run(RowMatrixD(4, 0), labels, 2); }, "no columns");
    RowMatrixD bad = x;
    bad(2, 1) = kNaN;
    throws([&] { run(bad, labels, 2); }, "row 2 has a NaN or infinite value");
    bad(2, 1) = std::numeric_limits<double>::infinity();
    throws([&] { run(bad, labels, 2); }, "row 2 has a NaN or infinite value");
    bad(2, 1) = 1e300;
    throws([&] { run(bad, labels, 2); }, "overflows double");
    // A NaN in an unlabeled row is fine.
    bad(2, 1) = kNaN;
    EXPECT_NO_THROW(run(bad, {0, 0, -1, 1}, 2));
    Eigen::MatrixXf xf = x.cast<float>();
    xf(0, 0) = NAN;
    throws([&] { label_similarity(xf, labels, 2); }, "row 0 has a NaN");
}
