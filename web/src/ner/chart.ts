/** The live training chart (uPlot, loaded with the tab): running training loss and dev F1 per epoch. */
import type uPlotType from "uplot";

type UPlot = typeof uPlotType;
let uplotModule: Promise<UPlot> | null = null;

function loadUplot(): Promise<UPlot> {
  const loading =
    uplotModule ??
    Promise.all([import("uplot"), import("uplot/dist/uPlot.min.css")]).then(([m]) => m.default);
  uplotModule = loading;
  loading.catch(() => (uplotModule = null));
  return loading;
}

export class TrainingChart {
  private plot: uPlotType | null = null;
  private readonly x: number[] = [];
  private readonly loss: (number | null)[] = [];
  private readonly f1: (number | null)[] = [];
  private readonly observer: ResizeObserver;

  constructor(readonly container: HTMLElement) {
    this.observer = new ResizeObserver(() => this.resize());
    this.observer.observe(container);
  }

  async init(): Promise<void> {
    const uPlot = await loadUplot();
    if (this.plot) return;
    this.plot = new uPlot(
      {
        width: Math.max(280, this.container.clientWidth),
        height: 240,
        scales: { x: { time: false }, f1: { range: [0, 100] } },
        legend: { live: false },
        cursor: { drag: { x: false, y: false } },
        series: [
          { label: "epoch" },
          {
            label: "training loss",
            stroke: "#1f5fa8",
            width: 2,
            scale: "loss",
            spanGaps: true,
            points: { show: false },
          },
          {
            label: "dev F1",
            stroke: "#b3261e",
            width: 2,
            scale: "f1",
            spanGaps: true,
            points: { show: true, size: 7 },
          },
        ],
        axes: [
          { label: "epoch", stroke: "#333" },
          { label: "loss", scale: "loss", stroke: "#1f5fa8" },
          { label: "dev F1 (%)", scale: "f1", side: 1, stroke: "#b3261e", grid: { show: false } },
        ],
      },
      [this.x, this.loss, this.f1] as unknown as uPlotType.AlignedData,
      this.container,
    );
  }

  private resize(): void {
    if (this.plot && this.container.clientWidth > 0)
      this.plot.setSize({ width: this.container.clientWidth, height: 240 });
  }

  private redraw(): void {
    this.plot?.setData([this.x, this.loss, this.f1] as unknown as uPlotType.AlignedData);
  }

  addLoss(epoch: number, loss: number): void {
    if (this.x.length > 0 && epoch <= this.x[this.x.length - 1]!) return;
    this.x.push(epoch);
    this.loss.push(loss);
    this.f1.push(null);
    this.redraw();
  }

  addF1(epoch: number, f1: number): void {
    const i = this.x.indexOf(epoch);
    if (i >= 0) this.f1[i] = f1;
    else {
      this.x.push(epoch);
      this.loss.push(null);
      this.f1.push(f1);
    }
    this.redraw();
  }

  clear(): void {
    this.x.length = 0;
    this.loss.length = 0;
    this.f1.length = 0;
    this.redraw();
  }
}
