/* One figure as it travels: from an agent's update through the hub's stored point to a
 * comparison's input and row. Numerator and denominator where the metric's method needs them,
 * otherwise a value, each with whether it is present. Every hop holds this struct whole, so a
 * figure is copied by one assignment and a new field reaches every hop at once. */
#ifndef CDOF_FIGURE_H
#define CDOF_FIGURE_H

#include <stdbool.h>

typedef struct {
    bool has_numerator, has_denominator, has_value;
    double numerator, denominator, value; /* meaningful only where the has_ flag is set */
} cdof_figure_t;

#endif
