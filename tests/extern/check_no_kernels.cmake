# cmake -DNM=<nm> -DOBJECTS=<objects> -P check_no_kernels.cmake
# Fails if an object compiled with CONVTAPE_EXTERN_TEMPLATES defines one of the templates that
# convtape/instantiate.hpp compiles once (or if it lacks uses_kernels.cpp's use_every_scalar(),
# which would mean the check looks at the wrong file).
# Regular expressions after "convtape::" (an optimizer's implicit destructor is still emitted:
# extern template does not cover implicitly declared members).
set(kernels detail::corr2d_accumulate< detail::corr2d_grad_input_accumulate<
            detail::corr2d_grad_kernel_accumulate< detail::conv2d_forward<
            detail::conv2d_backward_path< detail::conv2d_shape< detail::backward_from<
            detail::record_conv2d< detail::record_linear< sum< squared_loss<
            detail::conv2d_input_gradient< detail::max_pool2d_planes< detail::max_pool2d_scatter<
            "avg_pool2d<[a-z]+>\\(convtape::Tensor" detail::avg_pool2d_backward_planes<
            detail::adaptive_avg_pool2d_scatter< "log_softmax<[a-z]+>\\(convtape::Tensor"
            detail::log_softmax_backward< detail::cross_entropy_rows
            "SGD<[a-z]+>::step" "Adam<[a-z]+>::step" "Optimizer<[a-z]+>::zero_grad")
string(REPLACE " " ";" OBJECTS "${OBJECTS}")
foreach(object IN LISTS OBJECTS)
  execute_process(COMMAND "${NM}" -C --defined-only "${object}" OUTPUT_VARIABLE symbols
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${object}")
  endif()
  if(NOT symbols MATCHES "use_every_scalar\\(\\)")
    message(FATAL_ERROR "${object} does not define use_every_scalar(): wrong object?")
  endif()
  foreach(kernel IN LISTS kernels)
    string(REGEX MATCH "[^\n]*convtape::${kernel}[^\n]*" found "${symbols}")
    if(found)
message(FATAL_ERROR "${object} defines one despite CONVTAPE_EXTERN_TEMPLATES: ${found}")
    endif()
  endforeach()
  message(STATUS "${object}: defines none of ${kernels}")
endforeach()
