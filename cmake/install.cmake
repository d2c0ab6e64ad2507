# `cmake --install` for convtape: the headers, an exported convtape::convtape target with its
# package config and version files, and a pkg-config file.
#
# convtape is header-only, so everything it installs is the same on every architecture: the CMake
# package goes to <datadir>/cmake/convtape and convtape.pc to <datadir>/pkgconfig (both searched
# by default by find_package and pkg-config), as Eigen and nlohmann/json do. Under lib/ a
# multiarch distribution would need one copy per architecture for identical files.
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

install(TARGETS convtape EXPORT convtapeTargets INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
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
  ARCH_INDEPENDENT)
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
set(CONVTAPE_PC_PREFIX "@CONVTAPE_PC_PREFIX@")  # kept for the install-time pass below
configure_file("${PROJECT_SOURCE_DIR}/cmake/convtape.pc.in"
               "${PROJECT_BINARY_DIR}/convtape.pc.template" @ONLY)
install(CODE "
  set(CONVTAPE_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/convtape.pc.template\" \"${PROJECT_BINARY_DIR}/convtape.pc\" @ONLY)
")
install(FILES "${PROJECT_BINARY_DIR}/convtape.pc" DESTINATION "${CONVTAPE_INSTALL_PKGCONFIGDIR}")
