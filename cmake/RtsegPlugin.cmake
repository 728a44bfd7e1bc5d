# rtseg_add_plugin(<name>
#     SOURCES <files...>         component sources (everything but the entry point)
#     [ENTRY <plugin.cpp>]       the file with RTSEG_PLUGIN(...); when given, SOURCES also form an
#                                OBJECT library rtseg_plugin_<name>_objects that unit tests link
#     [LIBS <targets...>]        extra libraries (the SDK is always linked)
#     [OUTPUT_DIR <dir>]         where the .so goes (default: the plugin folder of the build tree)
#     [NO_INSTALL])
#
# The single way plugins are built, in this tree and out of it (the installed rtseg CMake package
# ships this file). It builds a MODULE library named librtseg_<name>.so with hidden visibility, so
# that only the two RTSEG_PLUGIN symbols are exported and plugins cannot shadow each other's code.
function(rtseg_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "ENTRY;OUTPUT_DIR" "SOURCES;LIBS" ${ARGN})
  if(NOT ARG_SOURCES AND NOT ARG_ENTRY)
    message(FATAL_ERROR "rtseg_add_plugin(${name}): give SOURCES and/or ENTRY")
  endif()
  set(target rtseg_plugin_${name})
  set(hidden_visibility CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
                        POSITION_INDEPENDENT_CODE ON)

  if(ARG_ENTRY)
    add_library(${target}_objects OBJECT ${ARG_SOURCES})
    set_target_properties(${target}_objects PROPERTIES ${hidden_visibility})
    target_link_libraries(${target}_objects PUBLIC rtseg::sdk ${ARG_LIBS})
    add_library(${target} MODULE ${ARG_ENTRY})
    target_link_libraries(${target} PRIVATE ${target}_objects rtseg::sdk ${ARG_LIBS})
  else()
    add_library(${target} MODULE ${ARG_SOURCES})
    target_link_libraries(${target} PRIVATE rtseg::sdk ${ARG_LIBS})
  endif()

  if(ARG_OUTPUT_DIR)
    set(out_dir "${ARG_OUTPUT_DIR}")
  elseif(DEFINED RTSEG_PLUGIN_OUTPUT_DIR)
    set(out_dir "${RTSEG_PLUGIN_OUTPUT_DIR}")
  else()
    set(out_dir "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  if(NOT DEFINED RTSEG_PLUGIN_INSTALL_DIR)
    set(RTSEG_PLUGIN_INSTALL_DIR "lib/rtseg/plugins")
  endif()

  set_target_properties(${target} PROPERTIES
    ${hidden_visibility}
    PREFIX "lib"
    OUTPUT_NAME "rtseg_${name}"
    LIBRARY_OUTPUT_DIRECTORY "${out_dir}"
    # lib/rtseg/plugins -> lib, where librtseg_sdk.so lives once installed.
    INSTALL_RPATH "$ORIGIN/../..")
  # An unresolved symbol is a link error here, not a dlopen failure at run time.
  target_link_options(${target} PRIVATE "LINKER:--no-undefined")

  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION "${RTSEG_PLUGIN_INSTALL_DIR}")
  endif()
endfunction()
