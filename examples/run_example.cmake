# Runs one example for ctest and checks what it did; `cmake -P` script, so it works wherever
# CMake does. Variables (-D...):
#   COMMAND          the example executable
#   ARGS             its arguments, separated by '|'
#   EXPECTED_STDOUT  a file whose text standard output must begin with
#   EXPECTED_FILES   files, separated by '|', that must exist and be non-empty afterwards
#   EXPECT_FAILURE   ON: the example must exit with a non-zero status (default: must succeed)
#   EXPECTED_STDERR  text standard error must contain
string(REPLACE "|" ";" args "${ARGS}")
string(REPLACE "|" ";" files "${EXPECTED_FILES}")
foreach(f IN LISTS files)
  file(REMOVE "${f}")  # so a stale file from an earlier run cannot pass the check
endforeach()

execute_process(COMMAND "${COMMAND}" ${args} RESULT_VARIABLE status OUTPUT_VARIABLE out
                ERROR_VARIABLE err)
message("${out}")
if(err)
  message("stderr:\n${err}")
endif()

if(EXPECT_FAILURE)
  if(status EQUAL 0)
    message(FATAL_ERROR "expected a non-zero exit status, got 0")
  endif()
elseif(NOT status EQUAL 0)
  message(FATAL_ERROR "exit status ${status}")
endif()

if(EXPECTED_STDOUT)
  file(READ "${EXPECTED_STDOUT}" expected)
  string(LENGTH "${expected}" length)
  string(SUBSTRING "${out}" 0 ${length} head)
  if(NOT head STREQUAL expected)
    message(FATAL_ERROR "standard output does not begin with the text of ${EXPECTED_STDOUT}:\n"
                        "--- expected ---\n${expected}\n--- got ---\n${head}")
  endif()
endif()

if(EXPECTED_STDERR)
  string(FIND "${err}" "${EXPECTED_STDERR}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "standard error does not contain '${EXPECTED_STDERR}'")
  endif()
endif()

foreach(f IN LISTS files)
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "expected file ${f} was not written")
  endif()
  file(SIZE "${f}" size)
  if(size EQUAL 0)
    message(FATAL_ERROR "expected file ${f} is empty")
  endif()
endforeach()
