// SPDX-License-Identifier: MIT
// SPDX-FileCopyrightText: 2026 The convtape authors
// Must NOT compile: gradients of an integer type. The test checks the compiler prints the
// static_assert's sentence.
#include "convtape/autograd/tape.hpp"

int main() {
  convtape::Tape<int> tape;
  return static_cast<int>(tape.size());
}
