package web

// Pager is the data of the "pagination" partial
// (templates/layouts/partials.html): which page of how many, and the
// URLs of the pages before and after ("" when there is none).
//
//	{{template "pagination" .Data.Pager}}
type Pager struct {
	Page, Pages int
	Prev, Next  string
}

// NewPager is the pager of page out of pages, url giving each page's
// address. A page out of range is taken as the nearest one there is, and
// a list with no pages has one (empty) page.
func NewPager(page, pages int, url func(int) string) Pager {
	pages = max(pages, 1)
	page = min(max(page, 1), pages)
	p := Pager{Page: page, Pages: pages}
	if page > 1 {
		p.Prev = url(page - 1)
	}
	if page < pages {
		p.Next = url(page + 1)
	}
	return p
}
