package main

import (
	"fmt"
	"image/color"
	"os"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// drawChart draws two panels side by side: the latency distribution of
// every phase and the event-lag distributions, each as latency by
// percentile (log scale), so runs can be compared by eye.
func drawChart(path string, rep report) error {
	var phases, lags []series
	for _, r := range rep.Phases {
		phases = append(phases, series{r.Name, r.latencies})
	}
	for _, l := range rep.Lags {
		lags = append(lags, series{"lag at " + l.Name, l.samples})
	}
	left, err := percentilePlot("Request latency by percentile", phases)
	if err != nil {
		return err
	}
	right, err := percentilePlot("Event lag by percentile (registration → analytics)", lags)
	if err != nil {
		return err
	}
	img := vgimg.New(vg.Points(1400), vg.Points(560))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 4, PadTop: vg.Millimeter * 4, PadBottom: vg.Millimeter * 4, PadLeft: vg.Millimeter * 4, PadRight: vg.Millimeter * 4}
	canvases := plot.Align([][]*plot.Plot{{left, right}}, tiles, dc)
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type series struct {
	name   string
	sorted []time.Duration
}

var palette = []color.Color{
	color.RGBA{31, 119, 180, 255}, color.RGBA{255, 127, 14, 255}, color.RGBA{44, 160, 44, 255},
	color.RGBA{214, 39, 40, 255}, color.RGBA{148, 103, 189, 255}, color.RGBA{140, 86, 75, 255},
	color.RGBA{227, 119, 194, 255}, color.RGBA{127, 127, 127, 255},
}

func percentilePlot(title string, all []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "milliseconds (log)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.X.Min, p.X.Max = 0, 100
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	for i, s := range all {
		if len(s.sorted) == 0 {
			continue
		}
		pts := make(plotter.XYs, 0, 101)
		for q := 0; q <= 100; q++ {
			pct := float64(q)
			if q == 100 {
				pct = 99.9
			}
			pts = append(pts, plotter.XY{X: pct, Y: max(ms(percentile(s.sorted, pct)), 0.1)})
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		line.Color = palette[i%len(palette)]
		line.Width = vg.Points(1.5)
		p.Add(line)
		p.Legend.Add(s.name, line)
	}
	return p, nil
}
