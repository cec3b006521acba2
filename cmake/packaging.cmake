# `make package`: Debian packages with CPack, one per install component.
#   libdareplane<SOVERSION>  runtime: the shared library (with shlibs, ldconfig trigger)
#   libdareplane-dev         headers, static library, libdareplane.so, pkg-config, CMake files
#   dareplane-tools          the dp-* programs and their man pages
# Installed under /usr. Runtime dependencies of the binaries come from
# dpkg-shlibdeps; the -dev package needs the runtime of the same version and the
# -dev packages of libuv and jansson (its pkg-config and CMake files name them).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME libdareplane)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "The libdareplane authors")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "C library for writing Dareplane modules")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_OUTPUT_FILE_PREFIX ${CMAKE_BINARY_DIR}/packages)
set(CPACK_COMPONENTS_ALL runtime dev tools)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "The libdareplane authors")
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/bsdlab/Dareplane")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)

set(DP_DEB_RUNTIME libdareplane${DP_SOVERSION})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME ${DP_DEB_RUNTIME})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON) # shlibs file for the library's users
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION "C library for writing Dareplane modules
 libdareplane is the C counterpart of the Python package dareplane_utils:
 ring buffer, logging to the central log server, StreamWatcher and outlets
 over LSL (liblsl is loaded at run time), and the module server that the
 Dareplane control room drives.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME libdareplane-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
  "${DP_DEB_RUNTIME} (= ${PROJECT_VERSION}), libuv1-dev (>= 1.44), libjansson-dev (>= 2.13)")
set(CPACK_COMPONENT_DEV_DESCRIPTION "C library for writing Dareplane modules (development files)
 Headers, static library, pkg-config file (dareplane.pc) and CMake package
 (find_package(dareplane)) of libdareplane.")

set(CPACK_DEBIAN_TOOLS_PACKAGE_NAME dareplane-tools)
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION science)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION "Dareplane command-line tools in C
 dp-logserver (the central log server), dp-send (talk to a module),
 dp-mock-stream and dp-watch (LSL streams), dp-example-module.")

include(CPack)
