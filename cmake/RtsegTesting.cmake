# rtseg_add_test(<name> SOURCES ... [LIBS ...] [DEFINITIONS ...])
#
# One GoogleTest executable (tests of one area), registered with ctest test by test. Tests get
# RTSEG_SOURCE_DIR, RTSEG_BINARY_DIR, RTSEG_FIXTURE_DIR (test plugins) and RTSEG_RFDETR_FIXTURES
# (../shared/fixtures/rfdetr beside the checkout; tests that need it skip when it is absent).
find_package(GTest REQUIRED)
include(GoogleTest)

function(rtseg_add_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS;DEFINITIONS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${name} PRIVATE GTest::gtest GTest::gmock GTest::gtest_main ${ARG_LIBS})
  target_compile_definitions(${name} PRIVATE
    RTSEG_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    RTSEG_BINARY_DIR="${CMAKE_BINARY_DIR}"
    RTSEG_FIXTURE_DIR="${CMAKE_BINARY_DIR}/tests/fixtures"
    RTSEG_RFDETR_FIXTURES="${PROJECT_SOURCE_DIR}/../shared/fixtures/rfdetr"
    ${ARG_DEFINITIONS})
  rtseg_set_warnings(${name})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 120)
endfunction()
