#include <ATen/Parallel.h>

#include "rtseg/framework/criterion/lsap.h"
#include "rtseg/framework/criterion/matcher.h"

namespace rtseg::framework::criterion {
namespace {

// One LSAP problem: the queries of one group of one image against the image's objects.
struct GroupProblem {
  std::size_t output;
  std::int64_t image;
  std::int64_t group;
};

void check_groups(std::int64_t queries, std::int64_t num_groups) {
  TORCH_CHECK(num_groups >= 1 && queries % num_groups == 0, "HungarianMatcher: ", queries,
              " queries cannot be split into ", num_groups, " groups");
}

Assignment solve_group(const float* costs, std::int64_t queries, std::int64_t stride,
                       const std::vector<std::int64_t>& sizes, std::int64_t num_groups,
                       std::int64_t image, std::int64_t group) {
  const std::int64_t group_queries = queries / num_groups;
  const float* block = costs + (image * queries + group * group_queries) * stride;
  return solve_linear_sum_assignment(block, group_queries, sizes[image], stride);
}

// Appends a group's pairs to its image's match, with the group's query offset.
void append(ImageMatch& match, const Assignment& assignment, std::int64_t query_offset) {
  for (std::size_t k = 0; k < assignment.rows.size(); ++k) {
    match.queries.push_back(assignment.rows[k] + query_offset);
    match.targets.push_back(assignment.cols[k]);
  }
}

}  // namespace

OutputMatches assign_per_group(const float* costs, std::int64_t queries, std::int64_t stride,
                               const std::vector<std::int64_t>& sizes, std::int64_t num_groups) {
  check_groups(queries, num_groups);
  const auto batch = static_cast<std::int64_t>(sizes.size());
  OutputMatches matches(sizes.size());
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t g = 0; g < num_groups; ++g) {
      append(matches[b], solve_group(costs, queries, stride, sizes, num_groups, b, g),
             g * (queries / num_groups));
    }
  }
  return matches;
}

HungarianMatcher::HungarianMatcher(MatcherOptions options, std::int64_t mask_point_sample_ratio)
    : options_(options), mask_point_sample_ratio_(mask_point_sample_ratio) {
  TORCH_CHECK(mask_point_sample_ratio >= 1, "HungarianMatcher: mask_point_sample_ratio must be >= 1");
  TORCH_CHECK(options.class_cost != 0 || options.bbox_cost != 0 || options.giou_cost != 0,
              "HungarianMatcher: the class, box and GIoU costs cannot all be 0");
}

std::vector<OutputMatches> HungarianMatcher::match(const std::vector<SupervisedOutput>& outputs,
                                                   const TargetBatch& targets,
                                                   std::int64_t num_groups,
                                                   at::Generator& generator) const {
  const std::int64_t batch = targets.batch_size();
  std::vector<OutputMatches> matches(outputs.size(), OutputMatches(targets.sizes.size()));
  if (targets.total == 0 || outputs.empty()) return matches;

  // Every output's [B, Q, max_size] costs, flattened into one tensor for one host copy.
  std::vector<torch::Tensor> flat;
  std::vector<std::int64_t> offsets, queries;
  std::int64_t offset = 0;
  for (const SupervisedOutput& output : outputs) {
    const torch::Tensor costs = finite_costs(
        matching_costs(output, targets, options_, mask_point_sample_ratio_, generator), targets);
    check_groups(costs.size(1), num_groups);
    offsets.push_back(offset);
    queries.push_back(costs.size(1));
    offset += costs.numel();
    flat.push_back(costs.reshape(-1));
  }
  const torch::Tensor host = torch::cat(flat).to(torch::kCPU).contiguous();
  const float* data = host.data_ptr<float>();

  std::vector<GroupProblem> problems;
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    for (std::int64_t b = 0; b < batch; ++b) {
      if (targets.sizes[b] == 0) continue;
      for (std::int64_t g = 0; g < num_groups; ++g) problems.push_back({o, b, g});
    }
  }
  std::vector<Assignment> solved(problems.size());
  at::parallel_for(0, static_cast<std::int64_t>(problems.size()), 1,
                   [&](std::int64_t begin, std::int64_t end) {
                     for (std::int64_t p = begin; p < end; ++p) {
                       const GroupProblem& problem = problems[p];
                       solved[p] = solve_group(data + offsets[problem.output],
                                               queries[problem.output], targets.max_size,
                                               targets.sizes, num_groups, problem.image,
                                               problem.group);
                     }
                   });
  // Problems are ordered output, image, group: appending in order gives RF-DETR's layout.
  for (std::size_t p = 0; p < problems.size(); ++p) {
    const GroupProblem& problem = problems[p];
    append(matches[problem.output][problem.image], solved[p],
           problem.group * (queries[problem.output] / num_groups));
  }
  return matches;
}

}  // namespace rtseg::framework::criterion
