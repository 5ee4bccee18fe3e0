# Installing the library (README.md, "Embedding"): the public header, a
# static and a shared library (soname libchat.so.CHAT_SOVERSION), a
# pkg-config file, a CMake package (find_package(chat) -> chat::chat and
# chat::chat_static), the chatd program and the front end (share/chat/public).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(CHAT_SOVERSION 1)
set(CHAT_LIB_VERSION 1.0.0)

add_library(chat_shared SHARED $<TARGET_OBJECTS:llhttp>)
target_link_libraries(chat_shared PRIVATE chat_obj)
set_target_properties(chat_shared PROPERTIES OUTPUT_NAME chat
  VERSION ${CHAT_LIB_VERSION} SOVERSION ${CHAT_SOVERSION}
  LINK_DEPENDS ${CMAKE_SOURCE_DIR}/cmake/libchat.map)
target_link_options(chat_shared PRIVATE -Wl,--version-script=${CMAKE_SOURCE_DIR}/cmake/libchat.map)

install(FILES ${CMAKE_SOURCE_DIR}/include/chat.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS chat chat_shared
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} NAMELINK_COMPONENT Unspecified)
install(TARGETS chatd RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/public/ DESTINATION ${CMAKE_INSTALL_DATADIR}/chat/public)

# pkg-config: libuv is public (chat.h includes uv.h); the rest is only
# needed to link the static library.
set(CHAT_PC_REQUIRES_PRIVATE
  "sqlite3 libsodium libssl libcrypto libcjson hiredis libcurl icu-uc icu-i18n ${MYSQL_MODULE_NAME} libmagic vips")
# The prefix is found from the file's own place, so that
# `cmake --install --prefix DIR` gives a correct file too.
file(RELATIVE_PATH CHAT_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
configure_file(${CMAKE_SOURCE_DIR}/cmake/chat.pc.in ${CMAKE_BINARY_DIR}/chat.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/chat.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

set(CHAT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/chat)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/chatConfig.cmake.in
  ${CMAKE_BINARY_DIR}/chatConfig.cmake
  INSTALL_DESTINATION ${CHAT_CMAKE_DIR}
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/chatConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/chatConfig.cmake ${CMAKE_BINARY_DIR}/chatConfigVersion.cmake
  DESTINATION ${CHAT_CMAKE_DIR})
