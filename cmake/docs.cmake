# An optional `docs` target: the API reference from the headers' /// comments plus the pages in
# docs/, built by Doxygen into <build>/docs/html. Not part of `all`; absent when Doxygen is not
# installed (a message says so).
find_package(Doxygen QUIET)
if(NOT DOXYGEN_FOUND)
  message(STATUS "convtape: Doxygen not found, no 'docs' target (apt-get install doxygen)")
  return()
endif()
set(CONVTAPE_DOCS_OUTPUT_DIR "${PROJECT_BINARY_DIR}/docs")
configure_file("${PROJECT_SOURCE_DIR}/docs/Doxyfile.in" "${CONVTAPE_DOCS_OUTPUT_DIR}/Doxyfile"
               @ONLY)
add_custom_target(docs
  COMMAND Doxygen::doxygen "${CONVTAPE_DOCS_OUTPUT_DIR}/Doxyfile"
  WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}"
  COMMENT "Doxygen: API reference and guide in ${CONVTAPE_DOCS_OUTPUT_DIR}/html"
  VERBATIM)
