# Where cdof installs what is not a program, and cdof_program(), which installs one.
#
# Every installed file belongs to an install component named after the Debian package that
# carries it (cdof-common, cdof-hub, cdof-agent, cdof-watch, cdof-tools): debian/rules installs
# each package with `cmake --install --component PACKAGE`, so a new program is one line,
# cdof_program(TARGET PACKAGE), and nothing in debian/ (unless it starts a new package).

# systemd reads units from /usr/local/lib/systemd/system as well as from /lib/systemd/system;
# debian/rules gives the distribution's directories.
set(CDOF_SYSTEMD_UNITDIR "${CMAKE_INSTALL_PREFIX}/lib/systemd/system"
    CACHE PATH "where the systemd units are installed")
set(CDOF_SYSUSERSDIR "${CMAKE_INSTALL_PREFIX}/lib/sysusers.d"
    CACHE PATH "where the sysusers.d file creating the cdof user is installed")
set(CDOF_TMPFILESDIR "${CMAKE_INSTALL_PREFIX}/lib/tmpfiles.d"
    CACHE PATH "where the tmpfiles.d file creating the backup directory is installed")
set(CDOF_BASHCOMPDIR "${CMAKE_INSTALL_DATADIR}/bash-completion/completions"
    CACHE STRING "where bash completion files are installed (relative to the prefix)")
# The units name /etc/cdof whatever the prefix: a configuration under /usr/local/etc would be
# one more place for an operator to look.
set(CDOF_CONFDIR "/etc/cdof" CACHE PATH "the configuration directory the units read")
set(CDOF_LIBEXECDIR "${CMAKE_INSTALL_FULL_LIBEXECDIR}/cdof")

# cdof_program(TARGET COMPONENT): installs the program, and its man page and bash completion,
# both generated at build time by running it with --help=man and --help=bash, so that they say
# what its option table says.
function(cdof_program target component)
  install(TARGETS ${target} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT ${component})
  set(man ${CMAKE_BINARY_DIR}/man/${target}.1)
  set(comp ${CMAKE_BINARY_DIR}/completions/${target})
  # detect_leaks=0: a sanitizer build runs these too, and a one-shot print need not free.
  add_custom_command(
    OUTPUT ${man} ${comp}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
            ${CMAKE_BINARY_DIR}/completions
    COMMAND ${CMAKE_COMMAND} -E env ASAN_OPTIONS=detect_leaks=0 sh -c
            "\"$1\" --help=man >\"$2\" && \"$1\" --help=bash >\"$3\"" sh
            $<TARGET_FILE:${target}> ${man} ${comp}
    DEPENDS ${target}
    COMMENT "Man page and bash completion of ${target}"
    VERBATIM)
  add_custom_target(${target}-doc ALL DEPENDS ${man} ${comp})
  install(FILES ${man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT ${component})
  install(FILES ${comp} DESTINATION ${CDOF_BASHCOMPDIR} COMPONENT ${component})
  set_property(GLOBAL APPEND PROPERTY CDOF_PROGRAMS ${target})
endfunction()

# cdof_install_config(FILE DEST COMPONENT): an example configuration, installed as DEST in
# CDOF_CONFDIR unless a file is already there: `cmake --install` never overwrites what an
# operator edited (packages install it as a conffile, and dpkg asks).
function(cdof_install_config file dest component)
  get_filename_component(src ${file} ABSOLUTE)
  install(CODE "
    set(d \"\$ENV{DESTDIR}${CDOF_CONFDIR}\")
    if(EXISTS \"\${d}/${dest}\")
      message(STATUS \"Keeping: \${d}/${dest} (already there)\")
    else()
      file(MAKE_DIRECTORY \"\${d}\")
      message(STATUS \"Installing: \${d}/${dest}\")
      configure_file(\"${src}\" \"\${d}/${dest}\" COPYONLY)
    endif()"
    COMPONENT ${component})
endfunction()
