# include/convtape/version.hpp must exist in the source tree (pkg-config and copy-the-headers users
# never run CMake), so it is written by hand; this check, run at every configure, stops the build
# if its numbers and project(VERSION) ever differ.
file(STRINGS "${PROJECT_SOURCE_DIR}/include/convtape/version.hpp" _convtape_version_lines
     REGEX "^#define CONVTAPE_VERSION_(MAJOR|MINOR|PATCH) +[0-9]+$")
set(_convtape_header_version "")
foreach(_part MAJOR MINOR PATCH)
  set(_value "?")
  foreach(_line IN LISTS _convtape_version_lines)
    if(_line MATCHES "^#define CONVTAPE_VERSION_${_part} +([0-9]+)$")
      set(_value "${CMAKE_MATCH_1}")
    endif()
  endforeach()
  list(APPEND _convtape_header_version "${_value}")
endforeach()
list(JOIN _convtape_header_version "." _convtape_header_version)
if(NOT _convtape_header_version STREQUAL PROJECT_VERSION)
  message(FATAL_ERROR "include/convtape/version.hpp says ${_convtape_header_version} but "
                      "project(convtape VERSION ${PROJECT_VERSION}) in CMakeLists.txt disagrees: "
                      "set both to the same version.")
endif()
unset(_convtape_version_lines)
unset(_convtape_header_version)
unset(_part)
unset(_value)
unset(_line)
