#pragma once

#include <string>
#include <vector>

namespace rtseg::cli {

/// `rtseg train --nproc N`: starts N copies of this command line (without --nproc) as the ranks
/// of one data-parallel run on this machine, with the variables torchrun would set (RANK,
/// LOCAL_RANK, WORLD_SIZE, LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT: a free port unless
/// MASTER_PORT is set), and waits for them, passing SIGINT and SIGTERM on to them. When one fails
/// the others get SIGTERM (they save their state and stop), and SIGKILL 30 s later if they have
/// not. Returns the exit code to end with: 0 when every rank succeeded, else the first failure's.
int launch_local_workers(int nproc, const std::vector<std::string>& argv);

}  // namespace rtseg::cli
