// Prints HdrHistogram's own percentiles (the Java reference implementation) for the histograms
// of `loadgen/tests/it/percentiles.rs`, to check that scalelab reports the same values.
//
//   apt-get install libhdrhistogram-java   # Debian's HdrHistogram 2.1.11
//   javac -cp /usr/share/java/hdrhistogram.jar Percentiles.java
//   java -cp /usr/share/java/hdrhistogram.jar:. Percentiles
//
// Each case: values v_i = 1 + (x_i mod range) with x_{i+1} = (x_i * 6364136223846793005 +
// 1442695040888963407) mod 2^64, x_0 = seed (unsigned), recorded into Histogram(1, 3600000000, 3).
import org.HdrHistogram.Histogram;

public class Percentiles {
    static final double[] PERCENTILES = {0.0, 7.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9, 99.99, 100.0};

    public static void main(String[] args) {
        long[][] cases = {
            // {seed, count, range}
            {1, 7, 1000}, {2, 10, 1000}, {3, 100, 1000}, {4, 1000, 100000},
            {5, 12345, 3600000}, {6, 3, 50}, {7, 200, 5000000}, {8, 99999, 250000},
        };
        for (long[] c : cases) {
            Histogram h = new Histogram(1, 3600000000L, 3);
            long x = c[0];
            for (long i = 0; i < c[1]; i++) {
                x = x * 6364136223846793005L + 1442695040888963407L;
                h.recordValue(1 + Long.remainderUnsigned(x, c[2]));
            }
            StringBuilder sb = new StringBuilder();
            sb.append(c[0]).append(' ').append(c[1]).append(' ').append(c[2]).append(" =>");
            for (double p : PERCENTILES) {
                sb.append(' ').append(h.getValueAtPercentile(p));
            }
            System.out.println(sb);
        }
    }
}
