#ifndef CPANGOCAIRO_SHIM_H
#define CPANGOCAIRO_SHIM_H

// Only TranscriptPDF imports this module; services never call cairo or pango directly.
#include <cairo.h>
#include <cairo-pdf.h>
#include <pango/pangocairo.h>

#endif
