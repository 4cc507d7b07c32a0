# `make install` (cmake --install): the binaries, the service unit, the user,
# an example configuration, the docs. PREFIX defaults to /usr/local; the
# configuration goes to /etc/kiseki whatever the prefix (DESTDIR honoured).
install(TARGETS kiseki-server kiseki kiseki-profile RUNTIME DESTINATION bin)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/kiseki.toml DESTINATION share/doc/kiseki RENAME kiseki.toml.example)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/kiseki.sysusers DESTINATION lib/sysusers.d RENAME kiseki.conf)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/kiseki.logrotate DESTINATION share/doc/kiseki RENAME logrotate.kiseki)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION share/doc/kiseki)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION share/doc/kiseki FILES_MATCHING PATTERN "*.md" PATTERN "perf" EXCLUDE)
# The unit names the installed binary, known only at install time (--prefix).
install(CODE [[
  set(prefix "${CMAKE_INSTALL_PREFIX}")
  file(READ "${KISEKI_SOURCE}/packaging/kiseki.service.in" unit)
  string(REPLACE "@BINDIR@" "${prefix}/bin" unit "${unit}")
  string(REPLACE "@DOCDIR@" "${prefix}/share/doc/kiseki" unit "${unit}")
  file(WRITE "$ENV{DESTDIR}${prefix}/lib/systemd/system/kiseki.service" "${unit}")
  message(STATUS "Installing: $ENV{DESTDIR}${prefix}/lib/systemd/system/kiseki.service")
  # The configuration is the operator's: an existing one is never replaced.
  set(conf "$ENV{DESTDIR}/etc/kiseki/kiseki.toml")
  if(EXISTS "${conf}")
    message(STATUS "Keeping: ${conf}")
  else()
    # file(INSTALL) puts DESTDIR in front of an absolute destination itself.
    file(INSTALL "${KISEKI_SOURCE}/packaging/kiseki.toml" DESTINATION "/etc/kiseki"
         FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  endif()
]])
install(DIRECTORY ${CMAKE_SOURCE_DIR}/packaging/prometheus DESTINATION share/doc/kiseki)
