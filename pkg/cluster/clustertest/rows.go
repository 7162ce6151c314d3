package clustertest

import (
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// rows is a pgx.Rows over a Result's values encoded to the wire format,
// decoded by pgx's own type map so the real scanning paths run.
type rows struct {
	cols   []Column
	data   [][][]byte // raw values; nil is NULL
	i      int
	err    error
	closed bool
	m      *pgtype.Map
}

// newRows encodes r's values with each column's OID and format.
func newRows(r Result) (*rows, error) {
	m := pgtype.NewMap()
	data := make([][][]byte, len(r.Rows))
	for i, vals := range r.Rows {
		if len(vals) != len(r.Columns) {
			return nil, fmt.Errorf("clustertest: row %d has %d values for %d columns", i, len(vals), len(r.Columns))
		}
		data[i] = make([][]byte, len(vals))
		for j, v := range vals {
			col := r.Columns[j]
			switch v := v.(type) {
			case nil:
			case Raw:
				data[i][j] = v
			default:
				// Encoding appends to buf: an empty value (the text '') must
				// not come out as nil, which is NULL.
				b, err := m.Encode(col.OID, col.Format, v, []byte{})
				if err != nil {
					return nil, fmt.Errorf("clustertest: encode row %d column %s: %w", i, col.Name, err)
				}
				data[i][j] = b
			}
		}
	}
	return &rows{cols: r.Columns, data: data, i: -1, m: m}, nil
}

func (r *rows) Close()     { r.closed = true }
func (r *rows) Err() error { return r.err }
func (r *rows) CommandTag() pgconn.CommandTag {
	return pgconn.NewCommandTag(fmt.Sprintf("SELECT %d", len(r.data)))
}
func (r *rows) Conn() *pgx.Conn      { return nil }
func (r *rows) TypeMap() *pgtype.Map { return r.m }
func (r *rows) RawValues() [][]byte  { return r.data[r.i] }

func (r *rows) Next() bool {
	if r.err != nil || r.closed {
		return false
	}
	r.i++
	if r.i >= len(r.data) {
		r.closed = true
		return false
	}
	return true
}

func (r *rows) FieldDescriptions() []pgconn.FieldDescription {
	fds := make([]pgconn.FieldDescription, len(r.cols))
	for i, c := range r.cols {
		fds[i] = pgconn.FieldDescription{Name: c.Name, DataTypeOID: c.OID, Format: c.Format}
	}
	return fds
}

func (r *rows) Scan(dest ...any) error {
	if len(dest) != len(r.cols) {
		r.err = fmt.Errorf("number of field descriptions must equal number of destinations, got %d and %d", len(r.cols), len(dest))
		return r.err
	}
	for i, c := range r.cols {
		if dest[i] == nil {
			continue
		}
		if err := r.m.Scan(c.OID, c.Format, r.data[r.i][i], dest[i]); err != nil {
			r.err = pgx.ScanArgError{ColumnIndex: i, FieldName: c.Name, Err: err}
			return r.err
		}
	}
	return nil
}

func (r *rows) Values() ([]any, error) {
	vals := make([]any, len(r.cols))
	for i, c := range r.cols {
		if r.data[r.i][i] == nil {
			continue
		}
		typ, ok := r.m.TypeForOID(c.OID)
		if !ok {
			return nil, fmt.Errorf("clustertest: unknown oid %d", c.OID)
		}
		v, err := typ.Codec.DecodeValue(r.m, c.OID, c.Format, r.data[r.i][i])
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	return vals, nil
}

// row is the pgx.Row of QueryRow: the first row of rows, or err.
type row struct {
	rows pgx.Rows
	err  error
}

func (r row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return nil
}
