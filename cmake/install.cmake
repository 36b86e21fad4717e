# Install rules (`make install PREFIX=...`, `cmake --install BUILD --prefix ...`):
# the shared and static libraries, the public header, the program, a
# cwhisper.pc for pkg-config and the CMake package files for
# find_package(cwhisper) (targets cwhisper::cwhisper, shared, and
# cwhisper::cwhisper_static). Both description files locate the prefix
# relative to themselves, so any --prefix given at install time works.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(cwhisper_shared PROPERTIES EXPORT_NAME cwhisper)
set_target_properties(cwhisper_static PROPERTIES EXPORT_NAME cwhisper_static)
install(TARGETS cwhisper_shared cwhisper_static EXPORT cwhisperTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/cwhisper.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS cwhisper RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# pkg-config: prefix = this file's folder, up to the install prefix.
file(RELATIVE_PATH CW_PC_TO_PREFIX "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
set(CW_PC_REQUIRES "zlib")
if(CW_FFMPEG_LIBS)
  set(CW_PC_REQUIRES "libavformat libavcodec libswresample libavutil zlib")
endif()
configure_file(${CMAKE_CURRENT_LIST_DIR}/cwhisper.pc.in ${PROJECT_BINARY_DIR}/cwhisper.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/cwhisper.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(CW_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/cwhisper)
install(EXPORT cwhisperTargets NAMESPACE cwhisper:: DESTINATION ${CW_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/cwhisperConfig.cmake.in
  ${PROJECT_BINARY_DIR}/cwhisperConfig.cmake INSTALL_DESTINATION ${CW_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/cwhisperConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/cwhisperConfig.cmake ${PROJECT_BINARY_DIR}/cwhisperConfigVersion.cmake
  DESTINATION ${CW_CMAKE_DIR})
