// Small helpers the views share: error dialogs that say what to do next, fonts, labels.
#pragma once

#include <QFont>
#include <QLabel>
#include <QString>
#include <functional>

#include "core/result.h"

class QAbstractItemModel;
class QSortFilterProxyModel;
class QTableView;

namespace countersign::app {

// Shows `error` in a dialog titled `what` ("Could not open the file"), with advice on what
// to do next for its code. Tests install a sink instead (no modal dialogs offscreen); it gets
// the same text and advice.
void show_error(QWidget* parent, const QString& what, const Error& error);
void set_error_sink(std::function<void(const QString&)> sink);

QFont fixed_font();
// A label for a value: selectable, word-wrapped, plain text.
QLabel* value_label(QWidget* parent = nullptr);
QString q(const std::string& s);

// The file tables' shared setup (Review's files, Diff's rows): `proxy` over `model` (case-
// insensitive filter on `filter_column`, -1 for all; sorting by `sort_role`), and a table
// over the proxy with fixed row heights, no per-row widgets, whole-row selection, sorting
// by header click, `stretch_column` taking the free width.
QTableView* file_table(QWidget* parent, QSortFilterProxyModel* proxy, QAbstractItemModel* model,
                       int filter_column, int sort_role, int stretch_column);
// The package changes table of Review and Diff (PackagesModel), filtered over every column.
QTableView* package_table(QWidget* parent, QSortFilterProxyModel* proxy, QAbstractItemModel* model);

}  // namespace countersign::app
