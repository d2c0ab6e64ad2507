# Warning flags for convtape's own tests, examples and benchmarks; never put on the interface
# target, so users' builds are theirs to configure.
option(CONVTAPE_WERROR "Treat warnings in convtape's own targets as errors" OFF)

function(convtape_set_warnings target)
  if(MSVC)
    target_compile_options(${target} PRIVATE /W4 $<$<BOOL:${CONVTAPE_WERROR}>:/WX>)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic
                           $<$<BOOL:${CONVTAPE_WERROR}>:-Werror>)
  endif()
endfunction()
