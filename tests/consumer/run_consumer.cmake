# One consumer test, run by ctest as `cmake -D... -P run_consumer.cmake`. MODE is one of
#   install       - configure and build convtape alone (tests off; convtape::compiled is what it
#                   builds) and `cmake --install` it to PREFIX
#   find_package, subdirectory, fetchcontent - build project/ that way, run it, check its output
#   find_package_compiled - find_package, linking convtape::compiled instead of convtape::convtape
#   pkgconfig     - compile project/main.cpp with `CXX $(pkg-config --cflags convtape)` against
#                   PREFIX, run it, check its output
#   pkgconfig_compiled - the same with `$(pkg-config --cflags --libs convtape-compiled)`, and the
#                   environment's CXXFLAGS and LDFLAGS (the installed library was built with them:
#                   a sanitized library needs the sanitizer's runtime at link time)
# The *_compiled programs must see CONVTAPE_EXTERN_TEMPLATES (main.cpp fails to compile without it
# when CONVTAPE_CONSUMER_EXPECT_EXTERN is defined) and link without a kernel of their own.
# Other inputs: SOURCE_DIR (convtape), WORK_DIR (scratch, emptied first), PREFIX, CXX, GENERATOR,
# CXX_STANDARD (may be empty: 17), EXPECTED_VERSION.
cmake_minimum_required(VERSION 3.16)

function(run)
  execute_process(COMMAND ${ARGN} WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "consumer ${MODE}: `${cmd}` failed (${rc}):\n${out}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

function(check_program program)
  run("${program}")
  set(expected "convtape ${EXPECTED_VERSION}\ncorr2d(X, K) = [[19, 25], [37, 43]]\n")
  if(NOT out STREQUAL expected)
    message(FATAL_ERROR "consumer ${MODE}: the program printed\n${out}\ninstead of\n${expected}")
  endif()
  message(STATUS "consumer ${MODE}: ok\n${out}")
endfunction()

if(NOT CXX_STANDARD)
  set(CXX_STANDARD 17)
endif()
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")
set(configure_args -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX}"
                   "-DCMAKE_CXX_STANDARD=${CXX_STANDARD}")

if(MODE STREQUAL "install")
  file(REMOVE_RECURSE "${PREFIX}")
  run("${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B build ${configure_args} -DCONVTAPE_BUILD_TESTS=OFF
      -DCONVTAPE_BUILD_EXAMPLES=OFF -DCONVTAPE_BUILD_DOCS=OFF -DCONVTAPE_INSTALL=ON)
  run("${CMAKE_COMMAND}" --build build --parallel 2)
  run("${CMAKE_COMMAND}" --install build --prefix "${PREFIX}")
  file(GLOB_RECURSE compiled RELATIVE "${PREFIX}" "${PREFIX}/*/libconvtape_compiled.a"
       "${PREFIX}/*/convtape-compiled.pc")
  list(LENGTH compiled count)
  if(NOT count EQUAL 2)
    message(FATAL_ERROR "consumer install: libconvtape_compiled.a or convtape-compiled.pc missing "
                        "from ${PREFIX} (found: ${compiled})")
  endif()
  foreach(file include/convtape/convtape.hpp include/convtape/corr2d.hpp
               include/convtape/io/parameters.hpp include/convtape/version.hpp
               share/cmake/convtape/convtapeConfig.cmake
               share/cmake/convtape/convtapeConfigVersion.cmake
               share/cmake/convtape/convtapeTargets.cmake share/pkgconfig/convtape.pc)
    if(NOT EXISTS "${PREFIX}/${file}")
      message(FATAL_ERROR "consumer install: ${PREFIX}/${file} was not installed")
    endif()
  endforeach()
  message(STATUS "consumer install: installed to ${PREFIX}")
elseif(MODE MATCHES "^(find_package|find_package_compiled|subdirectory|fetchcontent)$")
  set(target convtape::convtape)
  set(how "${MODE}")
  if(MODE STREQUAL "find_package_compiled")
    set(target convtape::compiled)
    set(how find_package)
  endif()
  run("${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/project" -B build ${configure_args}
      "-DCONVTAPE_CONSUMER_MODE=${how}" "-DCONVTAPE_CONSUMER_TARGET=${target}"
      "-DCONVTAPE_SOURCE_DIR=${SOURCE_DIR}"
      "-DCMAKE_PREFIX_PATH=${PREFIX}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
  if(how STREQUAL "find_package" AND NOT out MATCHES "from ${PREFIX}/share/cmake/convtape")
    message(FATAL_ERROR "consumer find_package: convtape was not found in ${PREFIX}:\n${out}")
  endif()
  run("${CMAKE_COMMAND}" --build build)
  find_program(program consumer PATHS "${WORK_DIR}/build" "${WORK_DIR}/build/Debug"
               NO_DEFAULT_PATH REQUIRED)
  check_program("${program}")
elseif(MODE STREQUAL "pkgconfig")
  find_program(PKG_CONFIG pkg-config REQUIRED)
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/share/pkgconfig")
  run("${PKG_CONFIG}" --cflags convtape)
  string(STRIP "${out}" cflags)
  separate_arguments(cflags UNIX_COMMAND "${cflags}")
  run("${CXX}" "-std=c++${CXX_STANDARD}" ${cflags} "${CMAKE_CURRENT_LIST_DIR}/project/main.cpp"
      -o consumer)
  check_program("${WORK_DIR}/consumer")
elseif(MODE STREQUAL "pkgconfig_compiled")
  find_program(PKG_CONFIG pkg-config REQUIRED)
  file(GLOB_RECURSE pc "${PREFIX}/*/convtape-compiled.pc")
  get_filename_component(pc_dir "${pc}" DIRECTORY)
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/share/pkgconfig:${pc_dir}")
  run("${PKG_CONFIG}" --cflags --libs convtape-compiled)
  string(STRIP "${out} $ENV{CXXFLAGS} $ENV{LDFLAGS}" flags)
  separate_arguments(flags UNIX_COMMAND "${flags}")
  run("${CXX}" "-std=c++${CXX_STANDARD}" -DCONVTAPE_CONSUMER_EXPECT_EXTERN
      "${CMAKE_CURRENT_LIST_DIR}/project/main.cpp" ${flags} -o consumer)
  check_program("${WORK_DIR}/consumer")
else()
  message(FATAL_ERROR "run_consumer.cmake: unknown MODE '${MODE}'")
endif()
