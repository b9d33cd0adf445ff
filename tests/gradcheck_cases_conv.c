/* Gradient-check cases of the conv ops (lib/nn). */
#include "gradcheck_cases.h"

case_list gradcheck_cases_conv(void)
{
    case_list l = {NULL, 0};
    return l;
}
