/* Bad input through the transport: filled in by the hardening work. */
#include "transport_util.h"

void transport_bad_input_cases(Suite *s) { (void)s; }
