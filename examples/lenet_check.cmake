# Runs the lenet example for ctest and checks what it learned; `cmake -P` script. Variables:
#   COMMAND       the lenet executable
#   ARGS          its arguments, separated by '|'
#   MIN_TEST_ACC  the last epoch's test accuracy must be at least this
#   RESUME_DIR    if set: instead, train 2 epochs in one run, and 1 epoch + save + resume for the
#                 second in two runs (files in this directory); the epoch lines (losses with all
#                 their digits, accuracies) and the saved files must be identical
# When the data set is not installed (lenet exits with 77) it prints "SKIPPED: ..." and returns;
# the test's SKIP_REGULAR_EXPRESSION turns that into a skip.
string(REPLACE "|" ";" args "${ARGS}")

# run_lenet(OUT_VAR extra-args...): runs lenet, fails the test on an error, stops on 77.
function(run_lenet out_var)
  execute_process(COMMAND "${COMMAND}" ${args} ${ARGN} RESULT_VARIABLE status
                  OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message("$ lenet ${args} ${ARGN}\n${out}")
  if(status EQUAL 77)
    message("SKIPPED: ${err}")
    return()
  endif()
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "lenet exited with ${status}:\n${err}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

# epoch_line(OUT_VAR TEXT K): the line of TEXT that starts with "epoch K,".
function(epoch_line out_var text k)
  string(REGEX MATCH "epoch ${k}, [^\n]*" line "${text}")
  if(NOT line)
    message(FATAL_ERROR "no line 'epoch ${k}, ...' in the output")
  endif()
  set(${out_var} "${line}" PARENT_SCOPE)
endfunction()

if(RESUME_DIR)
  file(REMOVE_RECURSE "${RESUME_DIR}")
  file(MAKE_DIRECTORY "${RESUME_DIR}")
  run_lenet(whole --epochs 2 --exact --save "${RESUME_DIR}/whole.npz")
  if(NOT DEFINED whole)
    return()  # skipped
  endif()
  run_lenet(first --epochs 1 --exact --save "${RESUME_DIR}/first.npz")
  run_lenet(second --epochs 2 --exact --resume "${RESUME_DIR}/first.npz"
            --save "${RESUME_DIR}/resumed.npz")
  epoch_line(whole1 "${whole}" 1)
  epoch_line(whole2 "${whole}" 2)
  epoch_line(first1 "${first}" 1)
  epoch_line(second2 "${second}" 2)
  if(NOT whole1 STREQUAL first1 OR NOT whole2 STREQUAL second2)
    message(FATAL_ERROR "the resumed run differs from the uninterrupted one:\n"
                        "uninterrupted: ${whole1}\n               ${whole2}\n"
                        "resumed:       ${first1}\n               ${second2}")
  endif()
  string(FIND "${second}" "epoch 1," again)
  if(NOT again EQUAL -1)
    message(FATAL_ERROR "the resumed run trained epoch 1 again")
  endif()
  file(SHA256 "${RESUME_DIR}/whole.npz" whole_hash)
  file(SHA256 "${RESUME_DIR}/resumed.npz" resumed_hash)
  if(NOT whole_hash STREQUAL resumed_hash)
    message(FATAL_ERROR "whole.npz and resumed.npz differ (model, optimizer state or history)")
  endif()
  message("resumed run identical to the uninterrupted one: ${second2}")
  return()
endif()

run_lenet(out)
if(NOT DEFINED out)
  return()  # skipped
endif()
string(REGEX MATCHALL "test acc [0-9.]+" accs "${out}")
list(LENGTH accs n)
if(n EQUAL 0)
  message(FATAL_ERROR "no 'test acc' in the output")
endif()
list(GET accs -1 last)
string(REPLACE "test acc " "" acc "${last}")
if(acc LESS MIN_TEST_ACC)
  message(FATAL_ERROR "test accuracy ${acc} is below ${MIN_TEST_ACC}")
endif()
string(FIND "${out}" "examples/sec" at)
if(at EQUAL -1)
  message(FATAL_ERROR "no 'examples/sec' line")
endif()
message("test accuracy ${acc} >= ${MIN_TEST_ACC}")
