#!/usr/bin/python3
"""Reads an ODS workbook with python3-odf (a reader independent of cdof's writer) and prints
every sheet as CSV lines: sheet name, row number, then each cell (a float cell's
office:value, otherwise its text). Repeated rows and cells are expanded.

    ods_read.py FILE.ods
"""
import csv
import sys

from odf.opendocument import load
from odf.table import Table, TableCell, TableRow
from odf.namespaces import OFFICENS, TABLENS


def cell_value(cell):
    if cell.getAttrNS(OFFICENS, "value-type") == "float":
        return cell.getAttrNS(OFFICENS, "value")
    return "\n".join(str(p) for p in cell.childNodes)


def main():
    doc = load(sys.argv[1])
    out = csv.writer(sys.stdout, lineterminator="\n")
    for sheet in doc.spreadsheet.getElementsByType(Table):
        name = sheet.getAttrNS(TABLENS, "name")
        n = 0
        for row in sheet.getElementsByType(TableRow):
            cells = []
            for cell in row.getElementsByType(TableCell):
                rep = int(cell.getAttrNS(TABLENS, "number-columns-repeated") or 1)
                cells.extend([cell_value(cell)] * rep)
            n += 1
            out.writerow([name, n] + cells)


if __name__ == "__main__":
    main()
