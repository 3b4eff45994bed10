// Binds a path through a Linkerd 1 style dtab with Finagle's own Dtab (Maven Central
// com.twitter:finagle-core_2.13), the code a Linkerd 1 router runs to delegate a name.
//
//   java -cp <lib>/*:<dir> DtabBind '<base dtab>' '<l5d-dtab header value>' /svc/name
//
// The request's l5d-dtab is appended to the router's base dtab (later dentries win),
// then the path is rewritten with Dtab.lookup until no dentry matches; the final path
// is printed. A dtab Finagle cannot parse exits 2 with Finagle's message.
import com.twitter.finagle.Dtab;
import com.twitter.finagle.Dtab$;
import com.twitter.finagle.Name;
import com.twitter.finagle.NameTree;
import com.twitter.finagle.Path;
import com.twitter.finagle.Path$;

public final class DtabBind {
  public static void main(String[] args) {
    Dtab dtab;
    Path path;
    try {
      Dtab base = Dtab$.MODULE$.read(args[0]);
      Dtab local = Dtab$.MODULE$.read(args[1]);
      dtab = base.$plus$plus(local);
      path = Path$.MODULE$.read(args[2]);
    } catch (IllegalArgumentException e) {
      System.out.println("ERROR " + e.getMessage());
      System.exit(2);
      return;
    }
    for (int step = 0; step < 100; step++) {
      NameTree<Name.Path> tree = dtab.lookup(path);
      scala.Option<?> bound = tree.eval();
      if (bound.isEmpty()) {
        System.out.println(path.show());
        return;
      }
      scala.collection.immutable.Set<?> leaves = (scala.collection.immutable.Set<?>) bound.get();
      if (leaves.isEmpty()) {
        System.out.println(path.show());
        return;
      }
      path = ((Name.Path) leaves.head()).path();
    }
    System.out.println("LOOP " + path.show());
    System.exit(3);
  }
}
