# CMake toolchain: cross-compile for 64-bit Windows with Debian's mingw-w64
# (x86_64-w64-mingw32-gcc, the posix thread model for C11 threads and
# winpthreads). Used by `make windows` and scripts/windows-deps.sh.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(DP_MINGW_TRIPLE x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${DP_MINGW_TRIPLE}-gcc-posix)
set(CMAKE_CXX_COMPILER ${DP_MINGW_TRIPLE}-g++-posix)
set(CMAKE_RC_COMPILER ${DP_MINGW_TRIPLE}-windres)
set(CMAKE_FIND_ROOT_PATH /usr/${DP_MINGW_TRIPLE} ${DP_WINDOWS_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# The C runtime helpers (libgcc, winpthreads) are linked in statically, so that
# dareplane.dll and the programs need no MinGW DLL beside them.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
# ctest runs the cross-built tests under Wine (make test-windows).
set(CMAKE_CROSSCOMPILING_EMULATOR wine)
