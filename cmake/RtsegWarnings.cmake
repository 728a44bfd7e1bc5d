# rtseg_set_warnings(<target>): the project's warning level for its own sources.
function(rtseg_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
endfunction()
