// The evaluator on hand-made cases (tests/eval/cases/<name>_{gt,results}.json), all twelve numbers
// to 1e-6. Each expectation is derived by hand below and agrees with pycocotools 2.0 (COCOeval on
// the same two files). Notation: per IoU threshold t, detections in global score order with
// TP / FP / ign(ored); AP_t = mean over the 101 recall points of the precision envelope.
#include "eval_test_support.h"

namespace rtseg {
namespace {

using framework::eval::IouType;
using eval_testing::evaluate_case;
using eval_testing::expect_stats;

TEST(CocoCases, CrowdRegionsAbsorbDetectionsAndUseDetectionAreaAsUnion) {
  // GT: box 10x10 (area 100), crowd box 40x40 at (50, 50). Detections by score: two 20x20 inside
  // the crowd (IoU 1 with DT-area union: ignored), one 20x20 at (45, 45) overlapping the crowd by
  // 15x15 (crowd IoU 225/400 = 0.5625: ignored for t <= 0.55, FP above), one FP, the TP last.
  // t <= .55: ign ign ign FP TP -> precision 1/2 at every recall point: AP_t = 0.5.
  // t >= .6:  ign ign FP FP TP -> 1/3. AP = (2 * 0.5 + 8 / 3) / 10.
  // AR1: the top detection is ignored -> 0. Everything is small: APs = AP; no medium/large GT.
  const double ap = (2 * 0.5 + 8.0 / 3) / 10;
  expect_stats(evaluate_case("crowd", IouType::kBox), {ap, 0.5, 1.0 / 3, ap, -1, -1, 0, 1, 1, 1, -1, -1});
}

TEST(CocoCases, TiesKeepFileOrderAndTheLaterGroundTruthWins) {
  // Image 1: GTs a = [0,0,10,10], b = [5,0,10,10]; x = [2.5,0,10,10] (0.9) has IoU 0.6 with both
  // (exactly the 0.6 threshold): the later GT b wins, so z = a's box (0.8) still finds a.
  // Image 2: GT c; v (FP, 0.9) is listed before w (TP on c, 0.9): equal scores keep file order.
  // Global order x, v, w, z (x and v/w tie at 0.9: image order, then file order).
  // t <= .6: TP FP TP TP, recall 1/3 1/3 2/3 1, envelope 1 .75 .75 .75 -> (34 + 67 * .75) / 101.
  // t >= .65: x misses: FP FP TP TP -> precision .5 up to recall 2/3: 67 * .5 / 101.
  const double ap50 = (34 + 67 * 0.75) / 101;
  const double ap75 = 67 * 0.5 / 101;
  const double ap = (3 * ap50 + 7 * ap75) / 10;
  // AR: recall 1 for 3 thresholds, 2/3 for 7. AR1: x and v only -> 1/3 for 3 thresholds.
  const double ar = (3 + 7 * 2.0 / 3) / 10;
  expect_stats(evaluate_case("ties", IouType::kBox), {ap, ap50, ap75, ap, -1, -1, 0.1, ar, ar, ar, -1, -1});
}

TEST(CocoCases, AreaRangeBoundsAreInclusiveAndUnmatchedDetectionsOutsideAreIgnored) {
  // GT p: area 1024 (small AND medium), q: area 9216 (medium AND large). Detections: f2 (area 2000,
  // FP, 0.95), dp on p (0.9), f1 (area 1024, FP, 0.85), dq on q (0.8).
  // all / medium: FP TP FP TP -> envelope 0.5 everywhere: 0.5.
  // small: f2 outside -> ign, dp TP, f1 FP, dq matched an ignored GT -> ign: precision 1.
  // large: only q counts; f2, f1 outside, dp matched ignored p: ign ign ign TP -> 1.
  expect_stats(evaluate_case("area_bounds", IouType::kBox), {0.5, 0.5, 0.5, 1, 0.5, 1, 0, 1, 1, 1, 1, 1});
}

TEST(CocoCases, ImagesWithoutGroundTruthOrDetectionsAndCategoriesWithoutGroundTruth) {
  // Image 1: GT + TP (0.7); image 2: a detection only (FP, 0.8); image 3: GT only; image 4: a
  // detection of category 3, which has no GT (category 3 is left out, -1, as is empty category 2).
  // FP TP: recall 0 .5, envelope .5 -> .5 for the 51 points up to recall .5: 25.5 / 101.
  const double ap = 25.5 / 101;
  expect_stats(evaluate_case("empty", IouType::kBox), {ap, ap, ap, ap, -1, -1, 0.5, 0.5, 0.5, 0.5, -1, -1});
}

TEST(CocoCases, OnlyTheTopHundredDetectionsOfAnImageCount) {
  // Image 1: 100 FPs scored 0.99 .. 0.891, then its TP at 0.8 (the 101st: dropped). Image 2: an
  // FP at 0.9505 and a TP at 0.9405. Global order: 40 FPs of image 1, image 2's FP, 10 more FPs,
  // image 2's TP at position 52 -> precision 1/52 up to recall .5 (51 points).
  // AR1 = 0 (both top detections are FPs), AR10 = AR100 = .5 (image 1's TP never counts).
  const double ap = 51.0 / 52 / 101;
  expect_stats(evaluate_case("many", IouType::kBox), {ap, ap, ap, ap, -1, -1, 0, 0.5, 0.5, 0.5, -1, -1});
}

TEST(CocoCases, GroundTruthIdZeroMatchesLikeAnyOtherId) {
  // Two GTs (ids 0 and 1), each found exactly: everything is 1 (AR1: one of two GTs -> .5).
  expect_stats(evaluate_case("id0", IouType::kBox), {1, 1, 1, 1, -1, -1, 0.5, 1, 1, 1, -1, -1});
}

TEST(CocoCases, GroundTruthIdZeroWithPycocotoolsQuirkNeverMatches) {
  // pycocotools reads the match with GT id 0 as "unmatched": FP TP -> 25.5 / 101, recall .5.
  const double ap = 25.5 / 101;
  expect_stats(evaluate_case("id0", IouType::kBox, 1, true), {ap, ap, ap, ap, -1, -1, 0, 0.5, 0.5, 0.5, -1, -1});
}

// Image 60 wide x 40 high. GTs: a polygon square (400 px), a compressed RLE square (400), an
// uncompressed RLE 10x10 (100) and a polygon triangle. Results (compressed RLEs, no bbox):
// FP (0.95), exact square (0.9), the RLE square shifted 2 px (IoU 360/440 = .818, 0.8), half of
// the 10x10 (IoU .5, 0.7), the exact triangle (0.6). 4 GTs.
// t = .5: FP TP TP TP TP -> envelope .8 everywhere.
// .55 <= t <= .8 (6): FP TP TP FP TP, recall 0 .25 .5 .5 .75: 2/3 for 51 points, .6 for 25.
// t >= .85 (3): FP TP FP FP TP, recall 0 .25 .25 .25 .5: .5 for 26 points, .4 for 25.
constexpr double kSegmAp50 = 0.8;
constexpr double kSegmApMid = (51 * 2.0 / 3 + 25 * 0.6) / 101;
constexpr double kSegmApHigh = (26 * 0.5 + 25 * 0.4) / 101;
constexpr double kSegmAp = (kSegmAp50 + 6 * kSegmApMid + 3 * kSegmApHigh) / 10;
constexpr double kSegmAr = (1 + 6 * 0.75 + 3 * 0.5) / 10;

TEST(CocoCases, SegmOnANonSquareImageWithPolygonsAndBothRleForms) {
  expect_stats(evaluate_case("segm", IouType::kSegm),
               {kSegmAp, kSegmAp50, kSegmApMid, kSegmAp, -1, -1, 0, kSegmAr, kSegmAr, kSegmAr, -1, -1});
}

TEST(CocoCases, SegmResultsWithBoxesTakeTheirAreaFromTheBox) {
  // The same masks with a bbox each (loadRes then uses w*h as area); the FP's box is the whole
  // image (2400 px, medium), so for the small range it is an unmatched detection outside: ignored.
  // small, t = .5: all TP -> 1; 6 mid thresholds: TP TP FP TP -> 1 for 51 points, .75 for 25;
  // 3 high: TP FP FP TP -> 1 for 26 points, .5 for 25.
  const double aps = (1 + 6 * (51 + 25 * 0.75) / 101 + 3 * (26 + 25 * 0.5) / 101) / 10;
  expect_stats(evaluate_case("segm_boxes", IouType::kSegm),
               {kSegmAp, kSegmAp50, kSegmApMid, aps, -1, -1, 0, kSegmAr, kSegmAr, kSegmAr, -1, -1});
}

// Random scenes (12 images, 3 categories + one without GT, polygons, crowd RLEs, jittered
// detections, many equal scores): too big to derive by hand, so these are pycocotools' numbers.
TEST(CocoCases, RandomBoxesAgreeWithPycocotools) {
  expect_stats(evaluate_case("random_bbox", IouType::kBox),
               {0.1974429597001479, 0.3227901975717934, 0.2302261185870909, 0.18438551064305897,
                0.34004400440043997, -1.0, 0.24333333333333335, 0.4666666666666666, 0.4666666666666666,
                0.4166666666666667, 0.7, -1.0});
}

TEST(CocoCases, RandomMasksAgreeWithPycocotools) {
  expect_stats(evaluate_case("random_segm", IouType::kSegm),
               {0.1007691209574751, 0.24483500981677117, 0.06744982768953586, 0.08181687216340681,
                0.5186547226151186, -1.0, 0.19609279609279603, 0.3336996336996336, 0.3336996336996336,
                0.2553030303030303, 0.7166666666666667, -1.0});
}

TEST(CocoCases, ThreadsGiveIdenticalNumbers) {
  for (const auto& [name, type] : {std::pair{"random_bbox", IouType::kBox}, std::pair{"random_segm", IouType::kSegm}}) {
    const auto one = evaluate_case(name, type, 1);
    const auto three = evaluate_case(name, type, 3);
    EXPECT_EQ(one.stats, three.stats) << name;
  }
}

}  // namespace
}  // namespace rtseg
