# `cmake --install` for convtape: the headers, the exported targets convtape::convtape and (with
# CONVTAPE_COMPILED) convtape::compiled with their package config and version files, and the
# pkg-config files convtape.pc and convtape-compiled.pc.
#
# The headers are the same on every architecture: the CMake package goes to
# <datadir>/cmake/convtape and convtape.pc to <datadir>/pkgconfig (both searched by default by
# find_package and pkg-config), as Eigen and nlohmann/json do. The compiled library is not:
# libconvtape_compiled.a goes to <libdir> and convtape-compiled.pc to <libdir>/pkgconfig, and the
# version file then stops claiming the package is architecture-independent.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CONVTAPE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/convtape"
    CACHE STRING "Where to install convtape's CMake package, relative to the prefix")
set(CONVTAPE_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_DATADIR}/pkgconfig"
    CACHE STRING "Where to install convtape.pc, relative to the prefix")
mark_as_advanced(CONVTAPE_INSTALL_CMAKEDIR CONVTAPE_INSTALL_PKGCONFIGDIR)

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/convtape"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp")

set(convtape_install_targets convtape)
if(TARGET convtape_compiled)
  list(APPEND convtape_install_targets convtape_compiled)
  set(convtape_arch_independent)
else()
  set(convtape_arch_independent ARCH_INDEPENDENT)
endif()
install(TARGETS ${convtape_install_targets} EXPORT convtapeTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT convtapeTargets
        NAMESPACE convtape::
        DESTINATION "${CONVTAPE_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/convtapeConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/convtapeConfig.cmake"
  INSTALL_DESTINATION "${CONVTAPE_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/convtapeConfigVersion.cmake"
  COMPATIBILITY SameMajorVersion
  ${convtape_arch_independent})
install(FILES "${PROJECT_BINARY_DIR}/convtapeConfig.cmake"
              "${PROJECT_BINARY_DIR}/convtapeConfigVersion.cmake"
        DESTINATION "${CONVTAPE_INSTALL_CMAKEDIR}")

# The .pc file names the prefix actually installed to, so it is written at install time: that
# honours `cmake --install --prefix` (DESTDIR stays out of it, as packagers need).
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(CONVTAPE_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(CONVTAPE_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(CONVTAPE_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(CONVTAPE_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
set(CONVTAPE_PC_PREFIX "@CONVTAPE_PC_PREFIX@")  # kept for the install-time pass below
# convtape_install_pc(NAME DESTINATION): cmake/NAME.pc.in, completed with the prefix at install.
function(convtape_install_pc name destination)
  configure_file("${PROJECT_SOURCE_DIR}/cmake/${name}.pc.in"
                 "${PROJECT_BINARY_DIR}/${name}.pc.template" @ONLY)
  install(CODE "
    set(CONVTAPE_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
    configure_file(\"${PROJECT_BINARY_DIR}/${name}.pc.template\" \"${PROJECT_BINARY_DIR}/${name}.pc\" @ONLY)
  ")
  install(FILES "${PROJECT_BINARY_DIR}/${name}.pc" DESTINATION "${destination}")
endfunction()
convtape_install_pc(convtape "${CONVTAPE_INSTALL_PKGCONFIGDIR}")
if(TARGET convtape_compiled)
  convtape_install_pc(convtape-compiled "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
endif()
